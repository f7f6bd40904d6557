fn main() {
    println!("tabswarm-sim: not yet implemented");
}

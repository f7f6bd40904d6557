//! QR codes for share links, drawn as SVG (the page shows them; no protocol logic here).

use qrcodegen::{QrCode, QrCodeEcc};
use wasm_bindgen::prelude::*;

/// An SVG image of `text` as a QR code (error correction level L, a 4-module quiet zone), or
/// an error if the text is too long for any QR version.
#[wasm_bindgen(js_name = qrSvg)]
pub fn qr_svg(text: &str) -> Result<String, JsError> {
    let qr = QrCode::encode_text(text, QrCodeEcc::Low)
        .map_err(|_| JsError::new("the link is too long for a QR code"))?;
    Ok(to_svg(&qr, 4))
}

fn to_svg(qr: &QrCode, border: i32) -> String {
    let size = qr.size() + border * 2;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" \
         shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"QR code of the share link\">\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\
         <path d=\"{path}\" fill=\"#000\"/></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_the_modules_of_the_code() {
        let qr = QrCode::encode_text("magnet:?xt=urn:btih:abc", QrCodeEcc::Low).unwrap();
        let svg = to_svg(&qr, 4);
        assert!(svg.starts_with("<svg"));
        let dark = (0..qr.size())
            .flat_map(|y| (0..qr.size()).map(move |x| (x, y)))
            .filter(|&(x, y)| qr.get_module(x, y))
            .count();
        assert_eq!(svg.matches('M').count(), dark);
        assert!(svg.contains(&format!("viewBox=\"0 0 {0} {0}\"", qr.size() + 8)));
    }
}

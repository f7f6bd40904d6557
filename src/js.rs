//! Small owners for JS resources: event listeners and timers that are released in `Drop`, the
//! page clock, the browser's random source, and the conversions between JS numbers and Rust
//! integers.
//!
//! Every JS `Closure` in this crate lives in one of these owners (or in a struct that holds
//! one), so dropping the Rust object both removes the JS registration and frees the closure:
//! nothing is leaked with `forget`, and JS never calls into a freed closure.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// An event listener registered with `addEventListener`; removed when dropped.
pub struct Listener {
    target: web_sys::EventTarget,
    event: &'static str,
    closure: Closure<dyn FnMut(web_sys::Event)>,
}

impl Listener {
    /// Registers `f` for `event` on `target`.
    pub fn new(
        target: &web_sys::EventTarget,
        event: &'static str,
        f: impl FnMut(web_sys::Event) + 'static,
    ) -> Listener {
        let closure = Closure::<dyn FnMut(web_sys::Event)>::new(f);
        // addEventListener only throws for a non-callable listener, which a Closure never is.
        let _ = target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
        Listener {
            target: target.clone(),
            event,
            closure,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self
            .target
            .remove_event_listener_with_callback(self.event, self.closure.as_ref().unchecked_ref());
    }
}

/// A `setTimeout` (or, with [`Timer::interval`], `setInterval`) that is cleared when dropped.
pub struct Timer {
    id: JsValue,
    interval: bool,
    _closure: Closure<dyn FnMut()>,
}

impl Timer {
    /// Calls `f` once after `ms` milliseconds (unless dropped first).
    pub fn once(ms: u32, f: impl FnMut() + 'static) -> Timer {
        let closure = Closure::<dyn FnMut()>::new(f);
        let id = set_timeout(closure.as_ref().unchecked_ref(), clamp_ms(ms));
        Timer {
            id,
            interval: false,
            _closure: closure,
        }
    }

    /// Calls `f` every `ms` milliseconds until dropped.
    pub fn interval(ms: u32, f: impl FnMut() + 'static) -> Timer {
        let closure = Closure::<dyn FnMut()>::new(f);
        let id = set_interval(closure.as_ref().unchecked_ref(), clamp_ms(ms));
        Timer {
            id,
            interval: true,
            _closure: closure,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if self.interval {
            clear_interval(&self.id);
        } else {
            clear_timeout(&self.id);
        }
    }
}

/// Milliseconds since the page's time origin (`performance.now()`), monotonic.
pub fn now_ms() -> f64 {
    performance_now()
}

/// The engine's clock: [`now_ms`] as a core `Time`.
pub fn now() -> tabswarm_core::time::Time {
    tabswarm_core::time::Time::from_millis_f64(now_ms())
}

/// Fills `buf` from `crypto.getRandomValues` (at most 65 536 bytes per call, as the API allows).
pub fn random_bytes(buf: &mut [u8]) {
    for chunk in buf.chunks_mut(65_536) {
        get_random_values(chunk);
    }
}

/// Resolves after `ms` milliseconds (a `setTimeout`).
pub async fn sleep_ms(ms: u32) {
    let p = js_sys::Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, clamp_ms(ms));
    });
    let _ = wasm_bindgen_futures::JsFuture::from(p).await;
}

/// A random 64-bit seed for the core's deterministic generator.
pub fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    random_bytes(&mut b);
    u64::from_le_bytes(b)
}

/// `obj[key]`, or `undefined` if `obj` is not an object (or the read throws).
pub fn prop(obj: &JsValue, key: &str) -> JsValue {
    if obj.is_object() {
        js_sys::Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// Sets `obj[key]` (a plain object's property: cannot throw).
pub fn set(obj: &JsValue, key: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(obj, &JsValue::from_str(key), value);
}

/// A byte count as a JS number (byte counts stay far below 2^53, where `f64` is exact).
pub fn u64_to_f64(x: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let v = x as f64;
    v
}

/// A JS number as bytes: saturating (by the definition of `as` for floats), `NaN` is 0.
pub fn f64_to_u64(x: f64) -> u64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let v = x as u64;
    v
}

/// A JS number as a `u32`, saturating like [`f64_to_u64`].
pub fn f64_to_u32(x: f64) -> u32 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let v = x as u32;
    v
}

/// A JS number as an `i64`, saturating.
pub fn f64_to_i64(x: f64) -> i64 {
    #[allow(clippy::cast_possible_truncation)]
    let v = x as i64;
    v
}

/// A readable message for a thrown JS value (an `Error`'s message, a string, or its `String()`).
pub fn error_text(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    if let Some(s) = e.as_string() {
        return s;
    }
    format!("{e:?}")
}

fn clamp_ms(ms: u32) -> i32 {
    // Browsers treat delays above 2^31-1 ms as 0; cap instead.
    i32::try_from(ms).unwrap_or(i32::MAX)
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(f: &js_sys::Function, ms: i32) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
    #[wasm_bindgen(js_name = setInterval)]
    fn set_interval(f: &js_sys::Function, ms: i32) -> JsValue;
    #[wasm_bindgen(js_name = clearInterval)]
    fn clear_interval(id: &JsValue);
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

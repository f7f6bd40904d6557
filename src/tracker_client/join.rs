//! A small `join_all`.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// Runs `futures` concurrently and returns their outputs in order. For the few offers of an
/// announce; `futures::future::join_all` would also link `FuturesOrdered` (for long lists),
/// several KB of the wasm download.
pub(super) async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut running: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = running.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in running.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *out = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(outputs.drain(..).flatten().collect())
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_all_waits_for_every_future_and_keeps_their_order() {
        /// Ready with `v` after being polled `pending` times.
        struct After {
            pending: u32,
            v: u32,
        }
        impl Future for After {
            type Output = u32;
            fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<u32> {
                if self.pending == 0 {
                    return Poll::Ready(self.v);
                }
                self.pending -= 1;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
        let futures = vec![
            After { pending: 2, v: 1 },
            After { pending: 0, v: 2 },
            After { pending: 1, v: 3 },
        ];
        let mut joined = Box::pin(join_all(futures));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut polls = 1;
        let out = loop {
            match joined.as_mut().poll(&mut cx) {
                Poll::Ready(out) => break out,
                Poll::Pending => polls += 1,
            }
        };
        assert_eq!(out, vec![1, 2, 3]);
        assert_eq!(polls, 3);
        assert_eq!(
            Box::pin(join_all(Vec::<After>::new()))
                .as_mut()
                .poll(&mut cx),
            Poll::Ready(vec![])
        );
    }
}

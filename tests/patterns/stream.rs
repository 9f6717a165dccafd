//! `MeasureStream::measured` and `measured_try`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use taskscope::Pattern;
use taskscope::patterns::MeasureStream;
use tokio::time::{Sleep, sleep};

use crate::support::common::{assert_about, function, init, outcomes};

/// Yields `items` after `every` each, then `Err` items where `fail` says, then ends.
struct Ticks {
    left: u32,
    every: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    fail_at: Option<u32>,
}

impl Ticks {
    fn new(items: u32, every: Duration) -> Ticks {
        Ticks {
            left: items,
            every,
            sleep: None,
            fail_at: None,
        }
    }
}

impl Stream for Ticks {
    type Item = Result<u32, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let every = self.every;
        let s = self.sleep.get_or_insert_with(|| Box::pin(sleep(every)));
        if s.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.sleep = None;
        self.left -= 1;
        let left = self.left;
        if self.fail_at == Some(left) {
            return Poll::Ready(Some(Err(std::io::Error::other("bad item"))));
        }
        Poll::Ready(Some(Ok(left)))
    }
}

async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

#[tokio::test(start_paused = true)]
async fn items_their_times_and_the_time_waiting_for_the_consumer() {
    init();
    let mut s = Ticks::new(3, Duration::from_millis(20)).measured("stream_ok");
    while let Some(item) = next(&mut s).await {
        item.unwrap();
        // The consumer takes 5 ms per item before it asks for the next.
        sleep(Duration::from_millis(5)).await;
    }
    let whole = function("stream_ok");
    assert_eq!(whole.pattern, Pattern::Stream);
    assert_eq!(outcomes("stream_ok"), (1, 0, 0, 0), "one stream, completed");
    assert_about(whole.wall().max(), Duration::from_millis(75));
    assert_eq!(whole.ok.polls, 3, "a stream's polls are its items");
    assert_about(whole.busy().max(), Duration::from_millis(60));
    assert_about(whole.idle(), Duration::from_millis(15));
    let items = function("stream_ok.item");
    assert_eq!(outcomes("stream_ok.item"), (3, 0, 0, 0));
    assert_about(items.wall().p50(), Duration::from_millis(20));
}

#[tokio::test(start_paused = true)]
async fn a_stream_dropped_early_is_cancelled_and_error_items_are_errors() {
    init();
    let mut s = Ticks::new(5, Duration::from_millis(1)).measured_try("stream_early");
    next(&mut s).await.unwrap().unwrap();
    next(&mut s).await.unwrap().unwrap();
    drop(s);
    assert_eq!(outcomes("stream_early"), (0, 0, 1, 0), "dropped early");
    assert_eq!(outcomes("stream_early.item"), (2, 0, 0, 0));
    assert_eq!(function("stream_early").in_flight, 0);

    let mut ticks = Ticks::new(3, Duration::from_millis(1));
    ticks.fail_at = Some(0);
    let mut s = ticks.measured_try("stream_err");
    while next(&mut s).await.is_some() {}
    assert_eq!(outcomes("stream_err.item"), (2, 1, 0, 0));
    assert_eq!(function("stream_err.item").error_kind_count("Error"), 1);
    assert_eq!(
        outcomes("stream_err"),
        (0, 1, 0, 0),
        "its last item was an error"
    );
    assert_eq!(
        function("stream_err.item").in_flight,
        0,
        "asking for the end is no item"
    );
}

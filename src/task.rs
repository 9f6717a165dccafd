//! Tasks named after the function they run, so tokio-console and taskscope show the same
//! names.

use std::future::Future;

/// Spawns `future` on the current tokio runtime as a task named `name`, the name
/// tokio-console shows for it. [`spawn!`](crate::spawn!) calls this with the name of the
/// function whose call it spawns.
///
/// Task names need `--cfg tokio_unstable` (see [`subscriber()`](crate::subscriber())); in a
/// build without it this is `tokio::spawn(future)`, and the name goes nowhere.
///
/// ```
/// #[taskscope::measure]
/// async fn double(n: u32) -> u32 {
///     n * 2
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let handle = taskscope::spawn_named("double", double(21));
/// assert_eq!(handle.await.unwrap(), 42);
/// # }
/// ```
///
/// # Panics
/// Outside a tokio runtime, as `tokio::spawn` does.
#[track_caller]
pub fn spawn_named<F>(name: &str, future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // The call it runs keeps the call running now as its caller.
    let future = crate::instrument::nesting::WithCaller::of_current(future);
    #[cfg(tokio_unstable)]
    {
        // tokio's builder consumes the future and, in the tokio versions this crate
        // supports, never returns an error; if one ever does, the future is gone, so there is
        // nothing to fall back to spawning.
        tokio::task::Builder::new()
            .name(name)
            .spawn(future)
            .unwrap_or_else(|e| panic!("tokio could not spawn the task {name:?}: {e}"))
    }
    #[cfg(not(tokio_unstable))]
    {
        let _ = name;
        tokio::spawn(future)
    }
}

/// Spawns a call of a function as a tokio task named after that function, so tokio-console
/// lists the task under the name taskscope shows for a `#[measure]` function: the last
/// segment of the called path, or the method's name.
///
/// | call | task name |
/// |---|---|
/// | `taskscope::spawn!(fetch(id))` | `fetch` |
/// | `taskscope::spawn!(store::fetch(id))` | `fetch` |
/// | `taskscope::spawn!(client.get(url))` | `get` |
/// | `taskscope::spawn!(self.clone().handle(req))` | `handle` |
/// | `taskscope::spawn!("Server::handle", server.handle(req))` | `Server::handle` |
///
/// Give the name yourself, as a string literal first, for anything else: a function with
/// `#[measure(name = "...")]`, a method of a measured `impl` block (which taskscope shows as
/// `Type::method`), a call with a turbofish, an `async` block. Evaluates to the task's
/// `JoinHandle`; see [`spawn_named`], which it calls. Task names need
/// `--cfg tokio_unstable`; without it this is `tokio::spawn`.
///
/// ```
/// use std::sync::Arc;
///
/// #[taskscope::measure]
/// async fn fetch(id: u32) -> Result<u32, std::io::Error> {
///     Ok(id)
/// }
///
/// struct Server;
///
/// impl Server {
///     #[taskscope::measure]
///     async fn handle(self: Arc<Self>, request: u32) -> u32 {
///         request + 1
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = Arc::new(Server);
/// let fetched = taskscope::spawn!(fetch(7)); // a task named `fetch`
/// let handled = taskscope::spawn!(server.clone().handle(1)); // a task named `handle`
/// let other = taskscope::spawn!("warm_up", async { 3 });
/// assert_eq!(fetched.await.unwrap().unwrap(), 7);
/// assert_eq!(handled.await.unwrap(), 2);
/// assert_eq!(other.await.unwrap(), 3);
/// assert_eq!(taskscope::snapshot().function("handle").unwrap().ok.count, 1);
/// # }
/// ```
#[macro_export]
macro_rules! spawn {
    ($name:literal, $future:expr $(,)?) => {
        $crate::spawn_named($name, $future)
    };
    ($($call:tt)+) => {
        $crate::spawn_named($crate::__spawn_name!($($call)+), $($call)+)
    };
}

/// The name `spawn!` gives a call's task: the identifier right before the final argument
/// list. Not a public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __spawn_name {
    ($name:ident ( $($args:tt)* )) => {
        ::core::stringify!($name)
    };
    ($first:tt $($rest:tt)+) => {
        $crate::__spawn_name!($($rest)+)
    };
    ($other:tt) => {
        ::core::compile_error!(
            "taskscope::spawn! names the task after the function it calls, as in `spawn!(fetch(id))` or `spawn!(client.get(url))`; for anything else give the name first: `spawn!(\"name\", future)`"
        )
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_task_is_named_after_the_called_function() {
        assert_eq!(crate::__spawn_name!(fetch(1, 2)), "fetch");
        assert_eq!(crate::__spawn_name!(fetch()), "fetch");
        assert_eq!(crate::__spawn_name!(store::fetch(id)), "fetch");
        assert_eq!(crate::__spawn_name!(crate::store::fetch(id)), "fetch");
        assert_eq!(crate::__spawn_name!(self.handler(x)), "handler");
        assert_eq!(crate::__spawn_name!(client.get(x)), "get");
        assert_eq!(
            crate::__spawn_name!(self.clone().handle(f(1), g())),
            "handle"
        );
        assert_eq!(crate::__spawn_name!(Store::load(&key)), "load");
        assert_eq!(crate::__spawn_name!(<S as Trait>::run(s)), "run");
        assert_eq!(crate::__spawn_name!(a.b.c.fetch_all(ids)), "fetch_all");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn spawned_calls_run_and_give_their_output() {
        async fn add(a: u32, b: u32) -> u32 {
            a + b
        }
        assert_eq!(crate::spawn!(add(1, 2)).await.unwrap(), 3);
        assert_eq!(crate::spawn!("sum", add(2, 2)).await.unwrap(), 4);
        assert_eq!(crate::spawn_named("sum", add(3, 3)).await.unwrap(), 6);
    }
}

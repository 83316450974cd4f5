use std::sync::{Arc, Barrier};

use crate::TestApp;

/// Calls `work` once per input, each on a thread of its own, all released together by a
/// barrier (so the server sees them as nearly at once as threads allow); the results in input
/// order. A panic in `work` fails the calling test.
pub fn all_at_once<I, T, F>(app: &Arc<TestApp>, inputs: Vec<I>, work: F) -> Vec<T>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(&TestApp, I) -> T + Send + Sync + 'static,
{
    let work = Arc::new(work);
    let barrier = Arc::new(Barrier::new(inputs.len()));
    let handles: Vec<_> = inputs
        .into_iter()
        .map(|input| {
            let (app, barrier, work) = (Arc::clone(app), Arc::clone(&barrier), Arc::clone(&work));
            std::thread::spawn(move || {
                barrier.wait();
                work(&app, input)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

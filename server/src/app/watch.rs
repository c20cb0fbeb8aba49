//! Watching a folder for changes, debounced: one path for the adapters folder and the rules
//! folder. Watches the folder, not files (editors and `cp` replace files), and hands over the
//! changed paths once the folder has been quiet for `settle`, so a file still being written is
//! never read half-way.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context as _;
use notify::{RecursiveMode, Watcher};

/// Starts watching; `on_change` runs on a dedicated thread with every path that changed since
/// the last call. Dropping the returned watcher stops the watching (and the thread).
pub fn watch_folder(
    dir: &Path,
    recursive: bool,
    settle: Duration,
    name: &str,
    on_change: impl Fn(BTreeSet<PathBuf>) + Send + 'static,
) -> anyhow::Result<notify::RecommendedWatcher> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (sender, receiver) = mpsc::channel::<PathBuf>();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            // Reading a file (as every reload does) is reported too; only changes count, or
            // each reload would trigger the next.
            Ok(event) if matches!(event.kind, notify::EventKind::Access(_)) => {}
            Ok(event) => {
                for path in event.paths {
                    let _ = sender.send(path);
                }
            }
            Err(error) => tracing::warn!(%error, "folder watch error"),
        })?;
    let mode = if recursive {
        RecursiveMode::Recursive
    } else {
        RecursiveMode::NonRecursive
    };
    watcher
        .watch(dir, mode)
        .with_context(|| format!("watching {}", dir.display()))?;
    std::thread::Builder::new()
        .name(format!("hcp-watch-{name}"))
        .spawn(move || {
            while let Ok(first) = receiver.recv() {
                let mut changed = BTreeSet::from([first]);
                while let Ok(path) = receiver.recv_timeout(settle) {
                    changed.insert(path);
                }
                on_change(changed);
            }
        })?;
    Ok(watcher)
}

//! Progress on long steps (indicatif). Drawn on stderr only when it is a
//! terminal: CI logs and pipes get the plain lines the commands print.

use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

/// A bar counting bytes (`wrap_read` / `wrap_write` it around a stream).
pub fn bytes(what: &str, total: u64) -> ProgressBar {
    styled(
        ProgressBar::new(total),
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        what,
    )
}

/// A bar counting files.
pub fn files(what: &str, total: u64) -> ProgressBar {
    styled(
        ProgressBar::new(total),
        "{msg} [{bar:30}] {pos}/{len}",
        what,
    )
}

/// A spinner with the time spent, for a step that reports no progress of its
/// own (`docker save`, `docker load`, waiting for health checks).
pub fn spinner(what: &str) -> ProgressBar {
    let s = styled(
        ProgressBar::new_spinner(),
        "{spinner} {msg} {elapsed}",
        what,
    );
    s.enable_steady_tick(Duration::from_millis(200));
    s
}

fn styled(bar: ProgressBar, template: &str, what: &str) -> ProgressBar {
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

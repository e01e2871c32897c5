//! Progress drawing (indicatif), only on a terminal; quiet in CI and when output is piped.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use werf_graph::plan::Reporter;

/// A bar over the images being planned.
pub struct PlanProgress {
    bar: Option<ProgressBar>,
}

impl PlanProgress {
    /// A bar when stderr is a terminal, nothing otherwise.
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::hidden();
            bar.set_style(
                ProgressStyle::with_template("{spinner} planning {pos}/{len} images {wide_msg}")
                    .expect("the template is valid"),
            );
            bar
        });
        PlanProgress { bar }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Reporter for PlanProgress {
    fn start(&self, images: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(images as u64);
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
    }

    fn planned(&self, image: &str, _ok: bool) {
        if let Some(bar) = &self.bar {
            bar.set_message(image.to_string());
            bar.inc(1);
        }
    }
}

//! Progress drawing (indicatif), only on a terminal; quiet in CI and when output is piped, and
//! silent with `--log-quiet` (but for failures and warnings); and phase timings at debug level.

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
        let bar = (std::io::stderr().is_terminal() && !crate::printer::quiet()).then(|| {
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

/// Build progress: a bar per running image on a terminal, plain lines otherwise.
pub struct BuildProgress {
    multi: Option<indicatif::MultiProgress>,
    bars: std::sync::Mutex<std::collections::HashMap<String, ProgressBar>>,
}

impl BuildProgress {
    pub fn new() -> Self {
        BuildProgress {
            multi: (std::io::stderr().is_terminal() && !crate::printer::quiet())
                .then(indicatif::MultiProgress::new),
            bars: std::sync::Mutex::default(),
        }
    }

    pub fn finish(&self) {
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }

    /// One line, or several joined by line breaks, written at once.
    fn line(&self, mut text: String) {
        if crate::printer::quiet() {
            return;
        }
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None => {
                // One write (`eprintln!` writes the text and its line break apart): a pipe to a
                // CI log takes a thousand lines as one.
                text.push('\n');
                eprint!("{text}");
            }
        }
    }
}

/// The line of an image found in the registry.
fn existing_line(name: &str, tag: &str) -> String {
    format!(
        "`{name}`: {} already in the registry",
        &tag[..tag.len().min(12)]
    )
}

impl crate::build::Reporter for BuildProgress {
    fn existing(&self, name: &str, tag: &str) {
        self.line(existing_line(name, tag));
    }

    fn existing_all(&self, found: &[(&str, &str)]) {
        if found.is_empty() {
            return;
        }
        let text = found
            .iter()
            .map(|(name, tag)| existing_line(name, tag))
            .collect::<Vec<_>>()
            .join("\n");
        self.line(text);
    }

    fn started(&self, name: &str) {
        match &self.multi {
            Some(m) => {
                let bar = m.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                        .expect("the template is valid"),
                );
                bar.set_message(format!("building `{name}`"));
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                self.bars
                    .lock()
                    .expect("bars lock poisoned")
                    .insert(name.to_string(), bar);
            }
            None if crate::printer::quiet() => {}
            None => eprintln!("`{name}`: building"),
        }
    }

    fn finished(&self, name: &str, result: &crate::build::ImageResult, uploaded: u64) {
        if let Some(bar) = self.bars.lock().expect("bars lock poisoned").remove(name) {
            bar.finish_and_clear();
        }
        let on = match &result.builder {
            Some(daemon) => format!(" on `{daemon}`"),
            None => String::new(),
        };
        self.line(format!(
            "`{name}`: built and pushed {}{on} in {:.2} s ({uploaded} bytes uploaded)",
            &result.tag[..result.tag.len().min(12)],
            result.build_time.as_secs_f64()
        ));
    }

    fn step(&self, name: &str, step: &str) {
        // On a terminal the spinner names the step the daemon is at; lines stay quiet.
        if let Some(bar) = self.bars.lock().expect("bars lock poisoned").get(name) {
            bar.set_message(format!("building `{name}`: {step}"));
        }
    }

    fn lost_daemon(&self, name: &str, daemon: &str) {
        self.line(format!(
            "`{name}`: BuildKit daemon `{daemon}` was lost; building again on another"
        ));
    }

    fn failed(&self, name: &str, error: &str) {
        if let Some(bar) = self.bars.lock().expect("bars lock poisoned").remove(name) {
            bar.finish_and_clear();
        }
        // A failure is said even with `--log-quiet`.
        let text = format!("`{name}`: failed: {error}");
        match &self.multi {
            Some(m) => {
                let _ = m.println(text);
            }
            None => eprintln!("{text}"),
        }
    }
}

/// Deploy's events as lines on stderr.
pub struct DeployLines;

impl crate::deploy::report::Reporter for DeployLines {
    fn event(&self, event: crate::deploy::report::Event<'_>) {
        use crate::deploy::report::Event;
        let always = matches!(event, Event::Warning(_) | Event::RollingBack { .. });
        if always || !crate::printer::quiet() {
            eprintln!("{event}");
        }
    }

    fn status_lines(&self) -> (Box<dyn std::io::Write + Send>, bool) {
        use std::io::IsTerminal as _;
        if crate::printer::quiet() {
            return (Box::new(std::io::sink()), false);
        }
        (Box::new(std::io::stderr()), std::io::stderr().is_terminal())
    }
}

/// Debug timings of a command's phases: each mark logs the time since the start.
pub struct Phases(std::time::Instant);

impl Phases {
    pub fn start() -> Self {
        Phases(std::time::Instant::now())
    }

    /// Logs `what` with the milliseconds since [`Phases::start`] (at debug level).
    pub fn mark(&self, what: &str) {
        tracing::debug!("{what}: {:.1} ms", self.0.elapsed().as_secs_f64() * 1000.0);
    }
}

//! `faultline share`: a link that opens a scenario in the web app, the
//! scenario's text compressed into the URL fragment (the format the app's
//! own share links use, `sim_core::scenario::share_link`), with the
//! variant and seed to play. The scenario is loaded first, so a link is
//! only made for a file that opens; one too long to send is refused with
//! the numbers instead of printed broken.

use super::{Failure, bad_input, error, open};
use sim_core::scenario::{Shared, share_link};

/// Where `cargo xtask serve` serves the web app.
pub const DEFAULT_BASE: &str = "http://127.0.0.1:8080/";

pub fn share(
    name: &str,
    variant: Option<&str>,
    seed: Option<u64>,
    base: &str,
) -> Result<(), Failure> {
    let scenario = open(name)?;
    let spec = scenario.resolve(variant, &[]).map_err(error)?;
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(error(format!(
            "--base must be the web app's address, starting with http:// or https://, not `{base}`"
        )));
    }
    let shared = Shared {
        text: scenario.source.clone(),
        variant: variant.map(str::to_string),
        seed: seed.unwrap_or(spec.run.seed),
    };
    let link = share_link(base, &shared).map_err(|e| bad_input(format!("error: {e}")))?;
    println!("{link}");
    Ok(())
}

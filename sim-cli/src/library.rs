//! The story library, built into the binary so that `faultline run
//! double-charge` works from any directory; and resolving a name or a path
//! to a scenario's text.

use sim_core::scenario::did_you_mean;

pub use sim_core::scenario::STORIES;

/// A scenario's name, where it came from (for messages) and its text.
pub struct Source {
    pub name: String,
    pub file: String,
    pub text: String,
}

/// A story by name, or a scenario file by path (anything with a `/` or
/// ending in `.toml`).
pub fn resolve(name_or_path: &str) -> Result<Source, String> {
    if name_or_path.contains('/') || name_or_path.ends_with(".toml") {
        let bytes = std::fs::read(name_or_path)
            .map_err(|e| format!("cannot read scenario file `{name_or_path}`: {e}"))?;
        let text = sim_core::scenario::decode_text(bytes)
            .map_err(|e| format!("cannot read scenario file `{name_or_path}`: {e}"))?;
        let name = std::path::Path::new(name_or_path).file_stem().map_or_else(
            || name_or_path.to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        return Ok(Source {
            name,
            file: name_or_path.to_string(),
            text,
        });
    }
    match STORIES.iter().find(|(n, _)| *n == name_or_path) {
        Some((name, text)) => Ok(Source {
            name: name.to_string(),
            file: format!("scenarios/{name}.toml"),
            text: text.to_string(),
        }),
        None => {
            let hint = did_you_mean(name_or_path, STORIES.iter().map(|(n, _)| *n))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            Err(format!(
                "there is no story called `{name_or_path}`{hint} (`faultline list` shows them; a path to a .toml file works too)"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in library is exactly the files in scenarios/.
    #[test]
    fn the_library_matches_the_scenarios_folder() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| {
                let p = e.unwrap().path();
                (p.extension()? == "toml")
                    .then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
            })
            .filter(|name| name != "path")
            .collect();
        files.sort();
        let mut built_in: Vec<String> = STORIES.iter().map(|(n, _)| n.to_string()).collect();
        built_in.sort();
        assert_eq!(
            built_in, files,
            "add new stories to STORIES in sim-core/src/scenario/library.rs"
        );
    }

    #[test]
    fn names_and_paths_resolve() {
        assert_eq!(
            resolve("double-charge").unwrap().file,
            "scenarios/double-charge.toml"
        );
        let e = resolve("doubel-charge").err().unwrap();
        assert!(e.contains("did you mean `double-charge`?"), "{e}");
        let e = resolve("missing.toml").err().unwrap();
        assert!(
            e.contains("cannot read scenario file `missing.toml`"),
            "{e}"
        );
    }
}

//! The learning path: the shipped stories in chapters, read from
//! `scenarios/path.toml` (embedded like the stories). The CLI's `list`
//! and the web app's home page both show it, so they never disagree on
//! the order. `learning_path` checks that every story is on the path
//! exactly once and that every step names a story.

use super::library::STORIES;
use serde::Deserialize;

/// The path file's text, embedded at compile time.
pub const PATH_TEXT: &str = include_str!("../../../scenarios/path.toml");

/// The stories in chapters, in the order a learner takes them.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LearningPath {
    /// What Faultline is, in a sentence or two.
    pub intro: String,
    #[serde(rename = "chapter")]
    pub chapters: Vec<Chapter>,
}

/// One chapter: a theme and its stories in order.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Chapter {
    pub title: String,
    /// The chapter in one line.
    pub about: String,
    #[serde(rename = "story")]
    pub stories: Vec<Step>,
}

/// A story on the path.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The story's name in the library.
    pub name: String,
    /// What the story teaches, in one line.
    pub lesson: String,
    /// About how long it takes to predict, play and try its variants.
    pub minutes: u32,
}

impl LearningPath {
    /// Every step in order, with its chapter's index.
    pub fn steps(&self) -> impl Iterator<Item = (usize, &Step)> {
        self.chapters
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c.stories.iter().map(move |s| (i, s)))
    }

    /// The step after story `name` on the path, if there is one.
    pub fn next_after(&self, name: &str) -> Option<&Step> {
        let mut steps = self.steps().map(|(_, s)| s);
        steps.find(|s| s.name == name)?;
        steps.next()
    }
}

/// The shipped learning path, checked against the library.
pub fn learning_path() -> Result<LearningPath, String> {
    parse(PATH_TEXT, STORIES.iter().map(|(n, _)| *n))
}

/// Parses a path and checks it against the stories `library` names.
fn parse<'a>(
    text: &str,
    library: impl Iterator<Item = &'a str> + Clone,
) -> Result<LearningPath, String> {
    let path: LearningPath =
        toml::from_str(text).map_err(|e| format!("scenarios/path.toml: {}", e.message()))?;
    let mut seen: Vec<&str> = Vec::new();
    for chapter in &path.chapters {
        if chapter.stories.is_empty() {
            return Err(format!("chapter `{}` has no stories", chapter.title));
        }
    }
    for (_, step) in path.steps() {
        if !library.clone().any(|n| n == step.name) {
            let hint = super::suggest::did_you_mean(&step.name, library.clone())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            return Err(format!("the path names no story `{}`{hint}", step.name));
        }
        if seen.contains(&step.name.as_str()) {
            return Err(format!("story `{}` is on the path twice", step.name));
        }
        if !(1..=120).contains(&step.minutes) {
            return Err(format!(
                "story `{}` takes {} minutes; a step takes 1 to 120",
                step.name, step.minutes
            ));
        }
        seen.push(&step.name);
    }
    if let Some(missing) = library.clone().find(|n| !seen.contains(n)) {
        return Err(format!("story `{missing}` is not on the learning path"));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_path_holds_every_story_once() {
        let path = learning_path().unwrap();
        assert_eq!(path.steps().count(), STORIES.len());
        assert!(path.chapters.len() >= 6);
        assert_eq!(path.steps().next().unwrap().1.name, "queues");
        assert_eq!(
            path.next_after("tail-at-scale").unwrap().name,
            "double-charge"
        );
        assert_eq!(path.next_after("kill-switch"), None);
    }

    #[test]
    fn a_broken_path_says_what_is_wrong() {
        let lib = ["a", "b"];
        let one = |name: &str| {
            format!(
                "intro = \"x\"\n[[chapter]]\ntitle = \"c\"\nabout = \"d\"\n\
                 [[chapter.story]]\nname = \"{name}\"\nlesson = \"l\"\nminutes = 5\n"
            )
        };
        let err = |text: &str| parse(text, lib.iter().copied()).unwrap_err();
        assert_eq!(err(&one("a")), "story `b` is not on the learning path");
        assert_eq!(
            err(&one("bb")),
            "the path names no story `bb`; did you mean `b`?"
        );
        let twice = format!(
            "{}{}",
            one("a"),
            "[[chapter.story]]\nname = \"a\"\nlesson = \"l\"\nminutes = 5\n"
        );
        assert_eq!(err(&twice), "story `a` is on the path twice");
        assert!(err(&one("a").replace("minutes = 5", "minutes = 0")).contains("1 to 120"));
        assert!(err(&one("a").replace("lesson", "lessen")).contains("unknown field"));
        let both = format!(
            "{}{}",
            one("a"),
            "[[chapter.story]]\nname = \"b\"\nlesson = \"l\"\nminutes = 5\n"
        );
        assert_eq!(
            parse(&both, lib.iter().copied()).unwrap().steps().count(),
            2
        );
    }
}

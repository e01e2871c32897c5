//! werf's custom tag templates (`--add-custom-tag`, `--use-custom-tag`): text with the shortcuts
//! `%image%`, `%image_slug%`, `%image_safe_slug%` and `%image_content_based_tag%`, read as werf
//! reads them (a Go template whose delimiters are `%`), and checked as werf checks them: every
//! image's tag a valid Docker tag, and different images never given the same tag.

use werf_base::slug::{self, Kind};
use werf_graph::custom_tag::{ImageTag, TagPart};
use werf_graph::digest::TAG_LEN;

/// Why a template cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid custom tag `{template}`: a tag template is needed, not an empty one")]
    Empty { template: String },
    #[error("invalid custom tag `{template}`: a `%` opens a shortcut that is never closed")]
    Unclosed { template: String },
    #[error(
        "invalid custom tag `{template}`: `%{name}%` is no shortcut (use `%image%`, `%image_slug%`, `%image_safe_slug%` or `%image_content_based_tag%`)"
    )]
    UnknownShortcut { template: String, name: String },
    #[error(
        "invalid custom tag `{template}`: `{tag}` is not a Docker tag (letters, digits, `_`, `.` and `-`, not opening with `.` or `-`, at most 128 characters)"
    )]
    NotDockerTag { template: String, tag: String },
    #[error(
        "invalid custom tag `{template}`: images `{first}` and `{second}` would both be tagged `{tag}`; with more than one image the tag needs the image's name (e.g. `%image%-{template}`)"
    )]
    SameTag {
        template: String,
        first: String,
        second: String,
        tag: String,
    },
}

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Part {
    Text(String),
    Image,
    ImageSlug,
    ImageSafeSlug,
    ContentTag,
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

impl Template {
    /// Reads `text`; spaces inside a shortcut are allowed (`% image %`), as in Go's templates.
    pub fn parse(text: &str) -> Result<Template, Error> {
        let template = || text.to_string();
        if text.is_empty() {
            return Err(Error::Empty {
                template: template(),
            });
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('%') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let close = after.find('%').ok_or_else(|| Error::Unclosed {
                template: template(),
            })?;
            let name = after[..close].trim();
            parts.push(match name {
                "image" => Part::Image,
                "image_slug" => Part::ImageSlug,
                "image_safe_slug" => Part::ImageSafeSlug,
                "image_content_based_tag" => Part::ContentTag,
                _ => {
                    return Err(Error::UnknownShortcut {
                        template: template(),
                        name: name.to_string(),
                    })
                }
            });
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template {
            text: text.to_string(),
            parts,
        })
    }

    /// The template as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The tag of `image` whose content tag is `content_tag`.
    pub fn expand(&self, image: &str, content_tag: &str) -> String {
        self.for_image(image).expand(content_tag)
    }

    /// The tag of `image` with its name spelled in, the content tag left for the engine.
    pub fn for_image(&self, image: &str) -> ImageTag {
        let mut out: Vec<TagPart> = Vec::new();
        for p in &self.parts {
            let piece = match p {
                Part::Text(t) => t.clone(),
                Part::Image => image.to_string(),
                Part::ImageSlug => slug::slugify(image),
                Part::ImageSafeSlug => slug::slug(Kind::DockerTag, image),
                Part::ContentTag => {
                    out.push(TagPart::ContentTag);
                    continue;
                }
            };
            match out.last_mut() {
                Some(TagPart::Text(last)) => last.push_str(&piece),
                _ => out.push(TagPart::Text(piece)),
            }
        }
        ImageTag(out)
    }

    /// Checks the tags this template gives `images` (content tags stood in for): each a valid
    /// Docker tag, no two the same.
    pub fn check(&self, images: &[String]) -> Result<(), Error> {
        let stub = "x".repeat(TAG_LEN);
        let mut first: Option<(&String, String)> = None;
        for image in images {
            let tag = self.expand(image, &stub);
            if tag.is_empty() || !Kind::DockerTag.is_valid(&tag) {
                return Err(Error::NotDockerTag {
                    template: self.text.clone(),
                    tag,
                });
            }
            match &first {
                None => first = Some((image, tag)),
                Some((other, same)) if *same == tag => {
                    return Err(Error::SameTag {
                        template: self.text.clone(),
                        first: (*other).clone(),
                        second: image.clone(),
                        tag,
                    })
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn shortcuts_expand_as_werf_expands_them() {
        let t = Template::parse("%image%-%image_slug%-%image_safe_slug%-%image_content_based_tag%")
            .expect("valid");
        assert_eq!(
            t.expand("Back End", "c0ffee"),
            format!(
                "Back End-back-end-{}-c0ffee",
                slug::slug(Kind::DockerTag, "Back End")
            )
        );
        assert_eq!(
            Template::parse("v1.0-% image %")
                .expect("valid")
                .expand("web", "t"),
            "v1.0-web"
        );
        assert_eq!(
            Template::parse("main").expect("valid").expand("web", "t"),
            "main"
        );
    }

    #[test]
    fn bad_templates_are_errors_naming_the_cause() {
        assert!(matches!(Template::parse(""), Err(Error::Empty { .. })));
        assert!(matches!(
            Template::parse("v-%image"),
            Err(Error::Unclosed { .. })
        ));
        let e = Template::parse("%name%-x").expect_err("unknown");
        assert_eq!(
            e,
            Error::UnknownShortcut {
                template: "%name%-x".into(),
                name: "name".into()
            }
        );
        let t = Template::parse("-%image%").expect("parses");
        assert!(matches!(
            t.check(&names(&["web"])),
            Err(Error::NotDockerTag { tag, .. }) if tag == "-web"
        ));
        let long = Template::parse(&"a".repeat(129)).expect("parses");
        assert!(matches!(
            long.check(&names(&["web"])),
            Err(Error::NotDockerTag { .. })
        ));
        // The content tag counts in the length.
        let near = Template::parse(&format!("{}-%image_content_based_tag%", "a".repeat(71)))
            .expect("parses");
        assert!(near.check(&names(&["web"])).is_ok());
        let over = Template::parse(&format!("{}-%image_content_based_tag%", "a".repeat(72)))
            .expect("parses");
        assert!(over.check(&names(&["web"])).is_err());
    }

    #[test]
    fn one_tag_for_several_images_is_refused_but_fine_for_one() {
        let t = Template::parse("latest").expect("parses");
        assert!(t.check(&names(&["web"])).is_ok());
        let e = t.check(&names(&["web", "worker"])).expect_err("same tag");
        assert_eq!(
            e.to_string(),
            "invalid custom tag `latest`: images `web` and `worker` would both be tagged `latest`; with more than one image the tag needs the image's name (e.g. `%image%-latest`)"
        );
        let per_image = Template::parse("%image%-latest").expect("parses");
        assert!(per_image.check(&names(&["web", "worker"])).is_ok());
    }
}

//! Share links: the scenario text (deflated), the variant and the seed in
//! the URL fragment, so opening a link replays exactly the same run. The
//! web app makes and opens them; `faultline share` makes them from a file.
//!
//! The fragment is `#v1/<seed>/<variant or ->/<scenario, deflated and
//! base64url-encoded>`. Anything else is refused with a message saying
//! which part is wrong. A link longer than `MAX_LINK` is refused when it
//! is made: chat tools and some browsers cut such links.

use miniz_oxide::deflate::compress_to_vec;
use miniz_oxide::inflate::decompress_to_vec_with_limit;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
/// The most scenario text a link may carry once inflated, and the
/// largest file the web app opens (1 MiB).
pub const MAX_TEXT: usize = 1 << 20;
/// The longest link `share_link` makes, in characters.
pub const MAX_LINK: usize = 32_000;

/// What a link carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shared {
    pub text: String,
    pub variant: Option<String>,
    pub seed: u64,
}

fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

fn unbase64url(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for (i, c) in text.bytes().enumerate() {
        let v = ALPHABET
            .iter()
            .position(|&a| a == c)
            .ok_or_else(|| format!("character {} (`{}`) is not base64url", i + 1, c as char))?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

/// A whole link: `base` (the web app's address) and the fragment, or why
/// it would be too long to send.
pub fn share_link(base: &str, s: &Shared) -> Result<String, String> {
    let base = base.split('#').next().unwrap_or_default();
    let link = format!("{base}#{}", encode(s));
    if link.chars().count() > MAX_LINK {
        return Err(format!(
            "the link would be {} characters long, and links over {MAX_LINK} are cut by chat tools and some browsers; the scenario is {} bytes: shorten its prose (story, questions) or send the file itself",
            link.chars().count(),
            s.text.len()
        ));
    }
    Ok(link)
}

/// The fragment (without `#`) for a run.
pub fn encode(s: &Shared) -> String {
    let packed = base64url(&compress_to_vec(s.text.as_bytes(), 9));
    let variant = s.variant.as_deref().unwrap_or("-");
    format!("v1/{}/{variant}/{packed}", s.seed)
}

/// Reads a fragment (with or without its `#`).
pub fn decode(fragment: &str) -> Result<Shared, String> {
    let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
    let parts: Vec<&str> = fragment.splitn(4, '/').collect();
    let [version, seed, variant, packed] = parts[..] else {
        return Err(
            "this link is incomplete: expected #v1/<seed>/<variant>/<scenario>".to_string(),
        );
    };
    if version != "v1" {
        return Err(format!(
            "this link is in format `{version}`, which this version of Faultline cannot read (it reads v1)"
        ));
    }
    let seed = seed
        .parse::<u64>()
        .map_err(|_| format!("the link's seed `{seed}` is not a whole number"))?;
    let bytes = unbase64url(packed).map_err(|e| format!("the link's scenario is damaged: {e}"))?;
    let raw = decompress_to_vec_with_limit(&bytes, MAX_TEXT).map_err(|_| {
        "the link's scenario is damaged: it does not inflate (was the link cut short?)".to_string()
    })?;
    let text =
        super::decode_text(raw).map_err(|e| format!("the link's scenario cannot be read: {e}"))?;
    let variant = (variant != "-").then(|| variant.to_string());
    Ok(Shared {
        text,
        variant,
        seed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_every_length() {
        for n in 0..40u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(97).wrapping_add(n)).collect();
            assert_eq!(unbase64url(&base64url(&bytes)).unwrap(), bytes);
        }
        assert_eq!(base64url(b"Man"), "TWFu");
        assert_eq!(base64url(b"Ma"), "TWE");
    }

    #[test]
    fn a_link_carries_text_variant_and_seed() {
        let s = Shared {
            text: "title = \"x\"\n".repeat(50),
            variant: Some("with-keys".into()),
            seed: 42,
        };
        let link = encode(&s);
        assert!(link.len() < s.text.len(), "compressed: {}", link.len());
        assert_eq!(decode(&format!("#{link}")).unwrap(), s);
        let base = Shared { variant: None, ..s };
        assert_eq!(decode(&encode(&base)).unwrap(), base);
        let link = share_link("http://127.0.0.1:8080/#old", &base).unwrap();
        assert!(
            link.starts_with("http://127.0.0.1:8080/#v1/42/-/"),
            "{link}"
        );
    }

    /// Every shipped story fits in a link; text that does not deflate
    /// well enough is refused with the numbers, not cut.
    #[test]
    fn stories_fit_in_a_link_and_a_too_long_one_is_refused() {
        for (name, text) in super::super::STORIES {
            let s = Shared {
                text: text.to_string(),
                variant: None,
                seed: 1,
            };
            let link = share_link("http://127.0.0.1:8080/", &s).unwrap();
            assert!(link.len() < MAX_LINK / 2, "{name}: {}", link.len());
        }
        // Text that barely compresses: a long run of varied numbers.
        let mut x = 1u64;
        let noise: String = (0..40_000)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                char::from(b'a' + (x >> 59) as u8 % 26)
            })
            .collect();
        let s = Shared {
            text: format!("title = \"{noise}\"\n"),
            variant: None,
            seed: 1,
        };
        let e = share_link("http://x/", &s).unwrap_err();
        assert!(e.contains("links over 32000 are cut"), "{e}");
    }

    #[test]
    fn bad_links_say_what_is_wrong() {
        let good = encode(&Shared {
            text: "x".into(),
            variant: None,
            seed: 1,
        });
        for (link, says) in [
            ("", "incomplete"),
            ("v1/1/-", "incomplete"),
            ("v9/1/-/AAAA", "format `v9`"),
            ("v1/x/-/AAAA", "seed `x`"),
            ("v1/1/-/a*b", "not base64url"),
            ("v1/1/-/AAAA", "does not inflate"),
            (&good[..good.len() - 2], "damaged"),
        ] {
            let e = decode(link).unwrap_err();
            assert!(e.contains(says), "{link}: {e}");
        }
    }
}

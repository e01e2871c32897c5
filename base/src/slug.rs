//! werf's slugs: text made into a valid Helm release name, Kubernetes namespace or Docker tag.
//! A valid name stays as it is; any other is transliterated (Latin letters with accents,
//! Cyrillic, ligatures, enclosed and full-width forms; separators become `-`), cropped, and
//! ends with `-` and the MurmurHash3 of the original text, so different texts stay different.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The longest Helm release name.
pub const HELM_RELEASE_MAX: usize = 53;
/// The longest Kubernetes namespace (a DNS-1123 label).
pub const KUBERNETES_NAMESPACE_MAX: usize = 63;
/// The longest Docker tag.
pub const DOCKER_TAG_MAX: usize = 128;

/// A slug's kind: what the result must be valid as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    HelmRelease,
    KubernetesNamespace,
    DockerTag,
}

impl Kind {
    /// The longest valid name of this kind.
    pub fn max(self) -> usize {
        match self {
            Kind::HelmRelease => HELM_RELEASE_MAX,
            Kind::KubernetesNamespace => KUBERNETES_NAMESPACE_MAX,
            Kind::DockerTag => DOCKER_TAG_MAX,
        }
    }

    /// Whether `name` is valid as it is (the empty name too: it is never slugged).
    pub fn is_valid(self, name: &str) -> bool {
        if name.is_empty() {
            return true;
        }
        if name.len() > self.max() {
            return false;
        }
        match self {
            Kind::HelmRelease => name.split('.').all(is_label),
            Kind::KubernetesNamespace => is_label(name),
            Kind::DockerTag => {
                let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
                let b = name.as_bytes();
                word(b[0]) && b.iter().all(|c| word(*c) || *c == b'.' || *c == b'-')
            }
        }
    }
}

/// `name` as a valid name of `kind`: unchanged when it already is one, else its slug.
pub fn slug(kind: Kind, name: &str) -> String {
    if kind.is_valid(name) {
        name.to_string()
    } else {
        hashed(name, kind.max())
    }
}

/// A DNS-1123 label: lowercase letters, digits and `-`, not at either end.
fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= KUBERNETES_NAMESPACE_MAX
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// The transliterated text cropped to leave room for `-HASH`, then the hash of the original.
/// A crop starting with `-` loses its last character: werf's legacy rule, kept so names match.
fn hashed(data: &str, max: usize) -> String {
    let hash = format!("{:x}", murmur3_32(data.as_bytes()));
    let slugged = slugify(data);
    if slugged.is_empty() {
        return hash;
    }
    let room = max.saturating_sub(hash.len() + 1);
    // The slugified text is ASCII: any byte is a character boundary.
    let mut cropped = slugged[..slugged.len().min(room)].to_string();
    if cropped.starts_with('-') {
        cropped.pop();
    }
    format!("{cropped}-{hash}")
}

/// werf's transliteration: lowercase ASCII letters and digits, `-` for separators, no `-` at
/// either end or twice in a row; characters it has no spelling for are dropped.
pub fn slugify(data: &str) -> String {
    let mut out = String::new();
    for c in data.chars() {
        let spelled = spelling(c);
        if spelled.is_empty() {
            continue;
        }
        if spelled == "-" && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push_str(spelled);
    }
    if out.ends_with('-') {
        out.pop();
    }
    out
}

/// How `c` is spelled in a slug (empty: dropped).
fn spelling(c: char) -> &'static str {
    const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    const LETTERS: [&str; 26] = [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r",
        "s", "t", "u", "v", "w", "x", "y", "z",
    ];
    match c {
        '0'..='9' => DIGITS[c as usize - '0' as usize],
        'a'..='z' => LETTERS[c as usize - 'a' as usize],
        'A'..='Z' => LETTERS[c as usize - 'A' as usize],
        '&' | '(' | ')' | '{' | '}' | '[' | ']' | '-' | '_' | ',' | '.' | ';' | ':' | '=' | '+'
        | '<' | '>' | '~' | '/' | ' ' => "-",
        c if c.is_ascii() => "",
        c => beyond_ascii().get(&c).copied().unwrap_or(""),
    }
}

/// The spellings of the characters beyond ASCII that werf transliterates, by character.
fn beyond_ascii() -> &'static HashMap<char, &'static str> {
    static MAP: OnceLock<HashMap<char, &'static str>> = OnceLock::new();
    MAP.get_or_init(|| {
        SPELLINGS
            .iter()
            .flat_map(|(spelled, chars)| chars.chars().map(move |c| (c, *spelled)))
            .collect()
    })
}

/// Each spelling and the characters spelled so (werf's table).
const SPELLINGS: &[(&str, &str)] = &[
    ("", "ЪЬъь"),
    ("-", "＿～"),
    ("0", "⓪"),
    ("10", "⒑"),
    ("11", "⒒"),
    ("12", "⒓"),
    ("13", "⒔"),
    ("14", "⒕"),
    ("15", "⒖"),
    ("16", "⒗"),
    ("17", "⒘"),
    ("18", "⒙"),
    ("19", "⒚"),
    ("2", "²"),
    ("20", "⒛"),
    ("3", "³"),
    ("9", "⒐"),
    (
        "a",
        "ÀÁÂÃÄÅÅàáâãäåĀāĂăĄąǍǎǞǟǠǡǺǻȀȁȂȃȦȧȺɑАаᴀḀḁẚẠạẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴẵẶặₐ⒜ⒶⓐＡａ",
    ),
    ("aa", "Ꜳꜳ"),
    ("ac", "℀"),
    ("ae", "ÆæǢǣǼǽᴁᴂ"),
    ("af", "ꜺꜻꜼꜽ"),
    ("aj", "Ꜷꜷ"),
    ("ao", "Ꜵꜵ"),
    ("as", "℁"),
    ("av", "Ꜹꜹ"),
    ("b", "ßƀƁƄƅɃБбᴃḂḃḄḅḆḇℬ⒝ⒷⓑＢｂ"),
    ("c", "ÇçĆćĈĉĊċČčƇƈȻȼЦцᴄḈḉℂ℃℄⒞ⒸⓒＣｃ"),
    ("ch", "Чч"),
    ("co", "℅"),
    ("cu", "℆"),
    ("d", "ÐĎďĐđƉƊɗДдᴅᴆḊḋḌḍḎḏḐḑḒḓ⒟ⒹⓓＤｄ"),
    ("db", "ȸ"),
    ("dz", "ǄǅǆǱǲǳ"),
    (
        "e",
        "ÈÉÊËèéêëĒēĔĕĖėĘęĚěƐǝȄȅȆȇȨȩɆɇЭэᴇḔḕḖḗḘḙḚḛḜḝẸẹẺẻẼẽẾếỀềỂểỄễỆệₑ℮ℯ⒠ⒺⓔＥｅ",
    ),
    ("f", "ƑƒФфḞḟ℉⒡ⒻⓕꜰＦｆ"),
    ("g", "ĜĝĞğĠġĢģƓǤǥǦǧǴǵɠɡɢГгḠḡℊ⒢ⒼⓖＧｇ"),
    ("h", "ĤĥĦħȞȟХхḢḣḤḥḦḧḨḩḪḫẖℋℌℍℎℏ⒣ⒽⓗＨｈ"),
    ("i", "ÌÍÎÏìíîïĨĩĪīĬĭĮįƖƗǏǐȈȉȊȋИиḬḭḮḯ⒤ⒾⓘＩｉ"),
    ("ij", "Ĳĳ"),
    ("j", "ĴĵǰȷɈɉЙйᴊ⒥ⒿⓙＪｊ"),
    ("k", "KĶķĸƘƙǨǩКкᴋḰḱḲḳḴḵ⒦ⓀⓚＫｋ"),
    ("l", "İıĹĺĻļĽľĿŀŁłȽȾЛлᴌḶḷḸḹḺḻḼḽ⒧ⓁⓛＬｌ"),
    ("lj", "Ǉǈǉ"),
    ("m", "ɱМмᴍḾḿṀṁṂṃ⒨ⓂⓜＭｍ"),
    ("n", "ÑñŃńŅņŇňŉŊŋƝƞǸǹȠНнᴎṄṅṆṇṈṉṊṋℕ⒩ⓃⓝＮｎ"),
    ("nd", "Ƌƌ"),
    ("nj", "Ǌǋǌ"),
    (
        "o",
        "ÒÓÔÕÖØðòóôõöøŌōŎŏŐőƟƠơǑǒǪǫǬǭǾǿȌȍȎȏȪȫȬȭȮȯȰȱɵОоᴏṌṍṎṏṐṑṒṓỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợₒ⒪ⓄⓞＯｏ",
    ),
    ("oe", "Œœɶ"),
    ("p", "ƤƥПпṔṕṖṗ℗ℙ⒫ⓅⓟＰｐ"),
    ("px", "℞"),
    ("q", "ƼƽɊɋℚ⒬ⓆⓠＱｑ"),
    ("qp", "ȹ"),
    ("r", "ŔŕŖŗŘřƦȐȑȒȓɌɍРрṘṙṚṛṜṝṞṟℛℜℝ℟⒭ⓇⓡＲｒ"),
    ("s", "ŚśŜŝŞşŠšſƧƨƩȘșȿСсṠṡṢṣṤṥṦṧṨṩ⒮ⓈⓢꜱＳｓ"),
    ("sh", "Шш"),
    ("shch", "Щщ"),
    ("sm", "℠"),
    ("t", "ŢţŤťŦŧƪƫƬƭƮȚțТтṪṫṬṭṮṯṰṱẗ⒯ⓉⓣＴｔ"),
    ("tel", "℡"),
    ("th", "Þþ"),
    ("tm", "™"),
    (
        "u",
        "µÙÚÛÜùúûüŨũŪūŬŭŮůŰűŲųƯưƱƲǓǔǕǖǗǘǙǚǛǜȔȕȖȗɄУуṲṳṴṵṶṷṸṹṺṻỤụỦủỨứỪừỬửỮữỰự⒰ⓊⓤＵｕ",
    ),
    ("v", "ɅВвṼṽṾṿ⒱ⓋⓥＶｖ"),
    ("w", "ŴŵƜɯẀẁẂẃẄẅẆẇẈẉẘ⒲ⓌⓦＷｗ"),
    ("x", "×ẊẋẌẍₓ⒳ⓍⓧＸｘ"),
    ("y", "ÝýÿŶŷŸȲȳɎɏЫыẎẏẙỲỳỴỵỶỷỸỹ⒴ⓎⓨＹｙ"),
    ("ya", "Яя"),
    ("ye", "Ее"),
    ("yo", "Ёё"),
    ("yu", "Юю"),
    ("z", "ŹźŻżŽžƵƶƷȤȥɀЗзẐẑẒẓẔẕℤ⒵ⓏⓩＺｚ"),
    ("zh", "Жж"),
];

/// MurmurHash3 (x86, 32-bit, seed 0), as werf's `LegacyMurmurHash` computes it.
pub fn murmur3_32(data: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h: u32 = 0;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut k: u32 = 0;
        for (i, b) in tail.iter().enumerate() {
            k |= u32::from(*b) << (8 * i);
        }
        h ^= k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_matches_the_reference_vectors() {
        assert_eq!(murmur3_32(b""), 0);
        assert_eq!(murmur3_32(b"hello"), 0x248b_fa47);
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog"),
            0x2e4f_f723
        );
    }

    /// werf's own figures: its documentation's examples and its tests' cases.
    #[test]
    fn slugs_match_werfs() {
        let cases = [
            (
                Kind::KubernetesNamespace,
                "feature-fix-2",
                "feature-fix-2".to_string(),
            ),
            (
                Kind::KubernetesNamespace,
                "branch/one/!@#4.4-3",
                "branch-one-4-4-3-4fe08955".into(),
            ),
            (
                Kind::KubernetesNamespace,
                "My_branch",
                "my-branch-8ebf2d1d".into(),
            ),
            (Kind::KubernetesNamespace, "da_ta", "da-ta-3b339d14".into()),
            (
                Kind::KubernetesNamespace,
                "kubernetes.namespace",
                "kubernetes-namespace-1507f75c".into(),
            ),
            (
                Kind::KubernetesNamespace,
                &"x".repeat(64),
                format!("{}-afd4efcd", "x".repeat(54)),
            ),
            (Kind::HelmRelease, "release.name", "release.name".into()),
            (Kind::HelmRelease, "-data", "data-a871d86e".into()),
            (Kind::HelmRelease, "da/ta", "da-ta-afa96f8".into()),
            (
                Kind::HelmRelease,
                &"x".repeat(54),
                format!("{}-18c5dfb9", "x".repeat(44)),
            ),
            (
                Kind::HelmRelease,
                "looooooooooooooooooooooooooooooooooooooooooong_string",
                "looooooooooooooooooooooooooooooooooooooooooo-b150a895".into(),
            ),
            (Kind::DockerTag, "helo/ehlo", "helo-ehlo-b6f6ab1f".into()),
            (Kind::DockerTag, "16.04", "16.04".into()),
            (Kind::DockerTag, "-data", "data-a871d86e".into()),
            (Kind::DockerTag, "da/ta", "da-ta-afa96f8".into()),
            (
                Kind::DockerTag,
                &"x".repeat(129),
                format!("{}-8cca70eb", "x".repeat(119)),
            ),
            (Kind::DockerTag, "", String::new()),
        ];
        for (kind, input, want) in cases {
            let got = slug(kind, input);
            assert_eq!(got, want, "{kind:?} `{input}`");
            assert!(got.len() <= kind.max(), "{kind:?} `{input}`: too long");
            assert_eq!(slug(kind, &got), got, "{kind:?} `{input}`: not idempotent");
        }
    }

    #[test]
    fn accents_and_cyrillic_are_transliterated() {
        assert_eq!(slugify("Ünïcödé Straße"), "unicode-strabe");
        assert_eq!(slugify("Привет, мир"), "privyet-mir");
        assert_eq!(slugify("Съёмка"), "syomka");
        assert_eq!(slugify("Œuvre™ ⒜"), "oeuvretm-a");
        assert_eq!(slugify("--a__b--"), "a-b");
        assert_eq!(slugify("日本"), "");
        // Nothing transliterable: the hash alone.
        assert_eq!(
            slug(Kind::KubernetesNamespace, "日本"),
            format!("{:x}", murmur3_32("日本".as_bytes()))
        );
        assert!(slug(Kind::KubernetesNamespace, "Привет").starts_with("privyet-"));
    }
}

//! Themes by meaning: `status.failed`, `env.production`, `ui.selection`, with a `[palette]` and
//! `inherits`. Built-in themes are compiled in so `--demo` needs no files on disk.

use std::collections::BTreeMap;
use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("mono", include_str!("../../themes/mono.toml")),
];

pub fn builtin_theme_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    #[allow(dead_code)]
    name: Option<String>,
    inherits: Option<String>,
    #[serde(default)]
    palette: BTreeMap<String, String>,
    #[serde(default)]
    styles: BTreeMap<String, StyleSpec>,
}

#[derive(Debug, Deserialize, Clone, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StyleSpec {
    pub fg: Option<String>,
    pub bg: Option<String>,
    #[serde(default)]
    pub bold: bool,
    #[serde(default)]
    pub dim: bool,
    #[serde(default)]
    pub italic: bool,
    #[serde(default)]
    pub underlined: bool,
    #[serde(default)]
    pub reversed: bool,
    #[serde(default)]
    pub crossed_out: bool,
}

/// A resolved theme: role → style.
#[derive(Debug, Clone, Default)]
pub struct Theme {
    pub name: String,
    roles: BTreeMap<String, Style>,
    /// No colour at all (NO_COLOR or the mono theme): a log's own ANSI colours are dropped too.
    pub colorless: bool,
}

/// Roles that fall back to another when a theme does not define them.
const FALLBACK: &[(&str, &str)] = &[
    ("status.unstable", "status.failed"),
    ("status.aborted", "status.unknown"),
    ("status.pending", "status.unknown"),
    ("status.stale", "ui.muted"),
    ("ui.border_focus", "ui.title"),
    ("ui.hint_key", "ui.title"),
    ("log.error", "status.failed"),
    ("log.match", "ui.lock"),
    ("log.current", "ui.selection"),
    ("log.gutter", "ui.muted"),
];

impl Theme {
    /// Load a theme by name: the user's themes directory first, then the built-ins.
    /// `no_color` strips every colour but keeps weight and reverse video.
    pub fn load(name: &str, user_dir: Option<&Path>, no_color: bool) -> Result<Theme, String> {
        let (palette, specs) = theme_chain(name, user_dir, 0)?;
        let mut roles = BTreeMap::new();
        for (role, spec) in specs {
            let mut style = resolve(&spec, &palette).map_err(|e| format!("theme `{name}`: `{role}`: {e}"))?;
            if no_color {
                style.fg = None;
                style.bg = None;
                style.underline_color = None;
            }
            roles.insert(role, style);
        }
        Ok(Theme {
            name: name.to_string(),
            roles,
            colorless: no_color || name == "mono",
        })
    }

    pub fn style(&self, role: &str) -> Style {
        if let Some(s) = self.roles.get(role) {
            return *s;
        }
        if let Some((_, fallback)) = FALLBACK.iter().find(|(r, _)| *r == role) {
            return self.style(fallback);
        }
        Style::default()
    }

    pub fn roles(&self) -> impl Iterator<Item = (&String, &Style)> {
        self.roles.iter()
    }
}

fn read_theme_file(name: &str, user_dir: Option<&Path>) -> Result<ThemeFile, String> {
    let text = match user_dir.map(|d| d.join(format!("{name}.toml"))) {
        Some(path) if path.is_file() => std::fs::read_to_string(&path).map_err(|e| e.to_string())?,
        _ => BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.to_string())
            .ok_or_else(|| {
                format!(
                    "unknown theme `{name}` (built-in: {}; or put {name}.toml in the themes directory)",
                    builtin_theme_names().join(", ")
                )
            })?,
    };
    toml::from_str(&text).map_err(|e| format!("theme {name}: {e}"))
}

/// A theme's palette and style specs with its `inherits` chain applied: parents first, the child's
/// entries on top (so a child's palette recolours the parent's roles too).
type Chain = (BTreeMap<String, String>, BTreeMap<String, StyleSpec>);

fn theme_chain(name: &str, user_dir: Option<&Path>, depth: usize) -> Result<Chain, String> {
    if depth > 8 {
        return Err(format!("theme `{name}`: `inherits` goes round in a circle"));
    }
    let file = read_theme_file(name, user_dir)?;
    let (mut palette, mut specs) = match &file.inherits {
        Some(parent) => theme_chain(parent, user_dir, depth + 1)?,
        None => (BTreeMap::new(), BTreeMap::new()),
    };
    palette.extend(file.palette);
    specs.extend(file.styles);
    Ok((palette, specs))
}

fn resolve(spec: &StyleSpec, palette: &BTreeMap<String, String>) -> Result<Style, String> {
    let mut style = Style::default();
    if let Some(fg) = &spec.fg {
        style = style.fg(parse_colour(fg, palette)?);
    }
    if let Some(bg) = &spec.bg {
        style = style.bg(parse_colour(bg, palette)?);
    }
    let flags = [
        (spec.bold, Modifier::BOLD),
        (spec.dim, Modifier::DIM),
        (spec.italic, Modifier::ITALIC),
        (spec.underlined, Modifier::UNDERLINED),
        (spec.reversed, Modifier::REVERSED),
        (spec.crossed_out, Modifier::CROSSED_OUT),
    ];
    for (on, m) in flags {
        if on {
            style = style.add_modifier(m);
        }
    }
    Ok(style)
}

fn truecolor() -> bool {
    std::env::var("COLORTERM")
        .map(|v| v == "truecolor" || v == "24bit")
        .unwrap_or(false)
}

/// Colour names, palette references, `#rrggbb` and `color0..color255`. Hex colours drop to the
/// nearest of the 256 indexed colours unless the terminal announces truecolor, so tmux and older
/// SSH terminals still show something close.
fn parse_colour(text: &str, palette: &BTreeMap<String, String>) -> Result<Color, String> {
    let text = palette.get(text).map(|s| s.as_str()).unwrap_or(text);
    if let Some(hex) = text.strip_prefix('#') {
        if hex.len() != 6 {
            return Err(format!("colour `{text}` is not #rrggbb"));
        }
        let v = u32::from_str_radix(hex, 16).map_err(|_| format!("colour `{text}` is not #rrggbb"))?;
        let (r, g, b) = ((v >> 16) as u8, (v >> 8) as u8, v as u8);
        return Ok(if truecolor() {
            Color::Rgb(r, g, b)
        } else {
            Color::Indexed(nearest_256(r, g, b))
        });
    }
    if let Some(n) = text.strip_prefix("color").and_then(|n| n.parse::<u8>().ok()) {
        return Ok(Color::Indexed(n));
    }
    let c = match text.to_ascii_lowercase().replace(['_', '-', ' '], "").as_str() {
        "reset" | "default" => Color::Reset,
        "black" => Color::Black,
        "red" => Color::Red,
        "green" => Color::Green,
        "yellow" => Color::Yellow,
        "blue" => Color::Blue,
        "magenta" => Color::Magenta,
        "cyan" => Color::Cyan,
        "gray" | "grey" => Color::Gray,
        "darkgray" | "darkgrey" => Color::DarkGray,
        "lightred" => Color::LightRed,
        "lightgreen" => Color::LightGreen,
        "lightyellow" => Color::LightYellow,
        "lightblue" => Color::LightBlue,
        "lightmagenta" => Color::LightMagenta,
        "lightcyan" => Color::LightCyan,
        "white" => Color::White,
        _ => {
            return Err(format!(
                "unknown colour `{text}` (a palette name, an ANSI name, #rrggbb or colorN)"
            ));
        }
    };
    Ok(c)
}

fn nearest_256(r: u8, g: u8, b: u8) -> u8 {
    let level = |v: u8| -> u8 {
        if v < 48 {
            0
        } else if v < 115 {
            1
        } else {
            ((v as u16 - 35) / 40) as u8
        }
    };
    let (lr, lg, lb) = (level(r), level(g), level(b));
    16 + 36 * lr + 6 * lg + lb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_load_and_define_every_status() {
        for name in builtin_theme_names() {
            let t = Theme::load(name, None, false).unwrap();
            for role in [
                "status.ok",
                "status.failed",
                "status.running",
                "status.paused",
                "env.production",
            ] {
                assert!(t.roles.contains_key(role), "{name} lacks {role}");
            }
        }
    }

    #[test]
    fn light_inherits_dark_and_recolours() {
        let light = Theme::load("light", None, false).unwrap();
        assert_eq!(light.style("status.failed").fg, Some(Color::Red));
        assert!(light.style("status.failed").add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn no_color_strips_colours_keeps_weight() {
        let t = Theme::load("dark", None, true).unwrap();
        let s = t.style("status.failed");
        assert_eq!(s.fg, None);
        assert!(s.add_modifier.contains(Modifier::BOLD));
    }
}

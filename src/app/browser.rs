//! Opening evidence in a browser, when there is one to open it in. Over SSH the browser would open
//! on the wrong machine (or nowhere), so the cockpit shows the URL to copy instead.

use std::process::{Command, Stdio};

pub enum Opened {
    /// Handed to this command.
    Launched(String),
    /// Not opened, and why; the caller shows the URL instead.
    Unavailable(String),
}

/// Open `url` with `$BROWSER`, `open` (macOS) or `xdg-open` (a graphical Linux session).
/// Only http(s) URLs are opened: they come from servers, and a browser launcher given another
/// scheme may run anything.
pub fn open(url: &str) -> Opened {
    open_with(url, &|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
}

pub fn open_with(url: &str, env: &dyn Fn(&str) -> Option<String>) -> Opened {
    let parsed = match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        _ => return Opened::Unavailable(format!("not an http(s) URL, so not opened: {url}")),
    };
    let (program, args) = if let Some(browser) = env("BROWSER") {
        // $BROWSER may list several commands (`a:b`) and may place the URL with %s.
        let first = browser.split(':').next().unwrap_or("").trim().to_string();
        let mut words: Vec<String> = first.split_whitespace().map(str::to_string).collect();
        if words.is_empty() {
            return Opened::Unavailable("$BROWSER is empty".into());
        }
        let program = words.remove(0);
        if words.iter().any(|w| w.contains("%s")) {
            words = words.iter().map(|w| w.replace("%s", parsed.as_str())).collect();
        } else {
            words.push(parsed.to_string());
        }
        (program, words)
    } else if env("SSH_CONNECTION").is_some() || env("SSH_TTY").is_some() || env("SSH_CLIENT").is_some() {
        return Opened::Unavailable("over SSH there is no browser here; copy the URL".into());
    } else if cfg!(target_os = "macos") {
        ("open".to_string(), vec![parsed.to_string()])
    } else if env("DISPLAY").is_some() || env("WAYLAND_DISPLAY").is_some() {
        ("xdg-open".to_string(), vec![parsed.to_string()])
    } else {
        return Opened::Unavailable("no graphical session to open a browser in; copy the URL".into());
    };
    match Command::new(&program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(mut child) => {
            // Reap it without blocking the cockpit.
            std::thread::spawn(move || child.wait());
            Opened::Launched(program)
        }
        Err(e) => Opened::Unavailable(format!("cannot run {program}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn over_ssh_nothing_is_launched() {
        let e = env(&[("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22"), ("DISPLAY", ":0")]);
        assert!(matches!(open_with("https://sonar.example.com/x", &e), Opened::Unavailable(m) if m.contains("SSH")));
    }

    #[test]
    fn only_http_urls_are_opened() {
        let e = env(&[("BROWSER", "true")]);
        assert!(matches!(open_with("file:///etc/passwd", &e), Opened::Unavailable(_)));
        assert!(matches!(open_with("javascript:alert(1)", &e), Opened::Unavailable(_)));
    }

    #[test]
    fn browser_variable_is_used_with_or_without_placeholder() {
        let e = env(&[("BROWSER", "true %s:firefox")]);
        assert!(matches!(open_with("https://example.com/", &e), Opened::Launched(p) if p == "true"));
    }
}

//! `localplane completions SHELL` and `localplane man`: clap's own generators over the command line,
//! so the completions and the man page always say what the binary accepts.

use anyhow::Context;
use clap::CommandFactory;
use std::io::Write;
use std::path::Path;

/// Writes the completion script of `shell` to `out`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) -> anyhow::Result<()> {
    clap_complete::generate(shell, &mut super::Cli::command(), "localplane", out);
    out.flush().context("writing the completion script")
}

/// Writes the man page of `localplane` (roff) to `out`.
pub fn man(out: &mut dyn Write) -> anyhow::Result<()> {
    clap_mangen::Man::new(super::Cli::command()).render(out).context("writing the man page")?;
    out.flush().context("writing the man page")
}

/// Writes `localplane.1` and one page per subcommand (`localplane-serve.1`, …) into `dir`.
pub fn man_pages(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    clap_mangen::generate_to(super::Cli::command(), dir)
        .with_context(|| format!("writing the man pages into {}", dir.display()))?;
    eprintln!("man pages written to {}", dir.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_and_man_page_name_the_commands() {
        for shell in [clap_complete::Shell::Bash, clap_complete::Shell::Zsh, clap_complete::Shell::Fish] {
            let mut out = Vec::new();
            completions(shell, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(text.contains("localplane") && text.contains("serve"), "{shell}: {text}");
        }
        let mut out = Vec::new();
        man(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with(".ie") || text.starts_with(".TH"), "{}", &text[..80.min(text.len())]);
        assert!(text.contains(".TH localplane"), "{text}");
    }
}

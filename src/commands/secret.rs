//! `werf helm secret ...`: werf's encrypted secrets from the command line (key generation,
//! values and files encrypted, decrypted, edited, and the key rotated). Outputs are written whole
//! (a temporary file renamed into place) or not at all.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};

use crate::cli::{RotateArgs, SecretAction, SecretCommand, SecretEdit, SecretIo};
use crate::secret::{cipher, key, values};
use crate::settings::GlobalSettings;

/// The project folder (`--dir`, else the current one), where `.werf_secret_key` is looked for.
fn project_dir(global: &GlobalSettings) -> PathBuf {
    global.dir.clone().unwrap_or_else(|| PathBuf::from("."))
}

fn current_key(global: &GlobalSettings) -> Result<cipher::Key> {
    Ok(key::find("WERF_SECRET_KEY", &project_dir(global))?)
}

/// Writes `data` to `path` whole: a temporary file beside it, renamed over it.
fn write_whole(path: &Path, data: &[u8]) -> Result<()> {
    crate::files::write_whole(path, data, false)?;
    Ok(())
}

fn read_input(file: &Option<PathBuf>) -> Result<(String, Vec<u8>)> {
    match file {
        Some(f) => Ok((
            f.display().to_string(),
            std::fs::read(f).with_context(|| format!("cannot read `{}`", f.display()))?,
        )),
        None => {
            let mut data = Vec::new();
            std::io::stdin()
                .read_to_end(&mut data)
                .context("cannot read standard input")?;
            Ok(("standard input".into(), data))
        }
    }
}

fn write_output(output: &Option<PathBuf>, data: &[u8]) -> Result<()> {
    match output {
        Some(path) => write_whole(path, data),
        None => {
            std::io::stdout().lock().write_all(data)?;
            Ok(())
        }
    }
}

fn text(name: &str, data: Vec<u8>) -> Result<String> {
    String::from_utf8(data).with_context(|| format!("`{name}` is not UTF-8 text"))
}

/// Encrypts a values document.
fn encrypt_values(key: &cipher::Key, name: &str, text: &str) -> Result<String> {
    let tree = values::parse(text).with_context(|| format!("reading `{name}`"))?;
    let sealed = values::encrypt(key, tree).with_context(|| format!("encrypting `{name}`"))?;
    Ok(values::to_yaml(&sealed))
}

/// Decrypts a values document.
fn decrypt_values(key: &cipher::Key, name: &str, text: &str) -> Result<String> {
    let tree = values::parse(text).with_context(|| format!("reading `{name}`"))?;
    let plain = values::decrypt(key, tree).with_context(|| format!("decrypting `{name}`"))?;
    Ok(values::to_yaml(&plain))
}

/// Decrypts a whole secret file.
fn decrypt_file(key: &cipher::Key, name: &str, text: &str) -> Result<Vec<u8>> {
    Ok(cipher::decrypt(key, text)
        .with_context(|| format!("decrypting `{name}`"))?
        .0)
}

/// Encrypts a whole secret file (hex, with a final newline as werf writes it).
fn encrypt_file(key: &cipher::Key, data: &[u8]) -> Result<String> {
    Ok(format!("{}\n", cipher::encrypt(key, data)?))
}

/// Runs `werf helm secret ...`.
pub fn run(global: &GlobalSettings, command: &SecretCommand) -> Result<ExitCode> {
    match command {
        SecretCommand::GenerateSecretKey => {
            println!("{}", cipher::Key::generate()?);
        }
        SecretCommand::Values(action) => values_action(global, action)?,
        SecretCommand::File(action) => file_action(global, action)?,
        SecretCommand::RotateSecretKey(args) => rotate(global, args)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn values_action(global: &GlobalSettings, action: &SecretAction) -> Result<()> {
    let key = current_key(global)?;
    match action {
        SecretAction::Encrypt(SecretIo { file, output }) => {
            let (name, data) = read_input(file)?;
            let out = encrypt_values(&key, &name, &text(&name, data)?)?;
            write_output(output, out.as_bytes())
        }
        SecretAction::Decrypt(SecretIo { file, output }) => {
            let (name, data) = read_input(file)?;
            let out = decrypt_values(&key, &name, &text(&name, data)?)?;
            write_output(output, out.as_bytes())
        }
        SecretAction::Edit(SecretEdit { file }) => edit(
            file,
            |name, data| {
                let plain = match data {
                    Some(d) => decrypt_values(&key, name, &text(name, d)?)?,
                    None => String::new(),
                };
                Ok(plain.into_bytes())
            },
            |name, edited| encrypt_values(&key, name, &text(name, edited)?).map(String::into_bytes),
        ),
    }
}

fn file_action(global: &GlobalSettings, action: &SecretAction) -> Result<()> {
    let key = current_key(global)?;
    match action {
        SecretAction::Encrypt(SecretIo { file, output }) => {
            let (_, data) = read_input(file)?;
            write_output(output, encrypt_file(&key, &data)?.as_bytes())
        }
        SecretAction::Decrypt(SecretIo { file, output }) => {
            let (name, data) = read_input(file)?;
            let out = decrypt_file(&key, &name, &text(&name, data)?)?;
            write_output(output, &out)
        }
        SecretAction::Edit(SecretEdit { file }) => edit(
            file,
            |name, data| match data {
                Some(d) => decrypt_file(&key, name, &text(name, d)?),
                None => Ok(Vec::new()),
            },
            |_, edited| encrypt_file(&key, &edited).map(String::into_bytes),
        ),
    }
}

/// Decrypts `file` into a private temporary file, runs the editor on it, and encrypts what was
/// saved back into `file`. The plaintext never leaves the temporary file, which is removed.
fn edit(
    file: &Path,
    open: impl Fn(&str, Option<Vec<u8>>) -> Result<Vec<u8>>,
    seal: impl Fn(&str, Vec<u8>) -> Result<Vec<u8>>,
) -> Result<()> {
    let name = file.display().to_string();
    let existing = match std::fs::read(file) {
        Ok(d) => Some(d),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read `{name}`")),
    };
    let plain = open(&name, existing)?;
    let suffix = file
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix("werf-secret-")
        .suffix(&suffix)
        .tempfile()
        .context("cannot create a temporary file to edit in")?;
    tmp.write_all(&plain)?;
    tmp.flush()?;
    let editor = std::env::var("EDITOR").unwrap_or_else(|_| "vi".into());
    let mut parts = editor.split_whitespace();
    let program = parts.next().unwrap_or("vi");
    let status = std::process::Command::new(program)
        .args(parts)
        .arg(tmp.path())
        .status()
        .with_context(|| format!("cannot run the editor `{editor}`"))?;
    if !status.success() {
        bail!("the editor `{editor}` exited with {status}; `{name}` is unchanged");
    }
    let edited = std::fs::read(tmp.path()).context("cannot read the edited file")?;
    let sealed = seal(&name, edited)?;
    write_whole(file, &sealed)
}

/// Re-encrypts the project's secrets from `WERF_OLD_SECRET_KEY` to the current key. Everything
/// is decrypted first; nothing is written unless all of it decrypted.
fn rotate(global: &GlobalSettings, args: &RotateArgs) -> Result<()> {
    let dir = project_dir(global);
    let old = match std::env::var("WERF_OLD_SECRET_KEY") {
        Ok(k) if !k.trim().is_empty() => {
            cipher::Key::parse(&k).context("the key in `WERF_OLD_SECRET_KEY` cannot be used")?
        }
        _ => {
            bail!("`werf helm secret rotate-secret-key` needs the old key in `WERF_OLD_SECRET_KEY`")
        }
    };
    let new = current_key(global)?;
    let chart = dir.join(".helm");
    let mut value_files: Vec<PathBuf> = Vec::new();
    if chart.join("secret-values.yaml").is_file() {
        value_files.push(chart.join("secret-values.yaml"));
    }
    value_files.extend(args.files.iter().cloned());
    let mut secret_files = Vec::new();
    let mut stack = vec![chart.join("secret")];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => secret_files.push(p),
                _ => {}
            }
        }
    }
    secret_files.sort();
    let mut rewritten: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for f in &value_files {
        let name = f.display().to_string();
        let data = std::fs::read(f).with_context(|| format!("cannot read `{name}`"))?;
        let plain = decrypt_values(&old, &name, &text(&name, data)?)?;
        rewritten.push((f.clone(), encrypt_values(&new, &name, &plain)?.into_bytes()));
    }
    for f in &secret_files {
        let name = f.display().to_string();
        let data = std::fs::read(f).with_context(|| format!("cannot read `{name}`"))?;
        let plain = decrypt_file(&old, &name, &text(&name, data)?)?;
        rewritten.push((f.clone(), encrypt_file(&new, &plain)?.into_bytes()));
    }
    for (path, data) in &rewritten {
        write_whole(path, data)?;
        eprintln!("re-encrypted `{}`", path.display());
    }
    Ok(())
}

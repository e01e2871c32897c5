//! The functions chart templates may call: Sprig's and Helm 4's (`gotemplate::helm`), and
//! werf's `werf_image`, a context function reading the lazy image values, and
//! `werf_secret_file`, answered by the render's host.

use std::sync::{Arc, OnceLock};

use gotemplate::exec::Exec;
use gotemplate::funcs::{CallError, Funcs};
use gotemplate::Value;

/// The table, made once per process.
pub fn functions() -> &'static Arc<Funcs> {
    static TABLE: OnceLock<Arc<Funcs>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut f = gotemplate::helm::funcs();
        f.insert_context("werf_image", werf_image);
        // Answered by the render's host (see `output::render_template`); here only known.
        f.insert("werf_secret_file", |_| {
            Err("werf_secret_file: no secret files in this render".into())
        });
        Arc::new(f)
    })
}

/// werf 1.2's `{{ tuple "backend" . | werf_image }}`: `.Values.werf.image.backend`, read lazily
/// (the template depends on that image alone).
fn werf_image(exec: &mut Exec<'_>, args: &[Value]) -> Result<Value, CallError> {
    let (image, root) = match args {
        [Value::List(l)] if l.len() == 2 => (l[0].clone(), l[1].clone()),
        [image, root] => (image.clone(), root.clone()),
        _ => return Err("want (tuple \"IMAGE\" $)".into()),
    };
    let Value::Str(image) = image else {
        return Err("the image name must be a string".into());
    };
    let path = [
        "Values".to_string(),
        "werf".to_string(),
        "image".to_string(),
    ];
    let images = exec.field_path(root, &path)?;
    if !matches!(&images, Value::Map(m) if m.contains_key(&image)) {
        return Err(format!("no image `{image}` in werf.yaml").into());
    }
    Ok(match exec.lazy_entry(&images, &image) {
        Some(v) => v,
        None => exec.field_path(images, &[image])?,
    })
}

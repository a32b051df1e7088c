//! `vFile`: the client reads files on the server's machine (the program and
//! its libraries, `/proc/PID/maps`), so that a debugger elsewhere, or oxtrace's
//! own remote backend, finds symbols and maps.
//!
//! Read-only: `open` refuses any flag that writes or creates (`EACCES`), and
//! there is no `pwrite` or `unlink`. Only the files [`crate::file_access`]
//! allows are opened (or their links read); anything else is refused with
//! `EACCES` and logged.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};

use gdbstub::target::ext::host_io::{
    HostIo, HostIoClose, HostIoCloseOps, HostIoErrno, HostIoError, HostIoFstat, HostIoFstatOps, HostIoOpen,
    HostIoOpenFlags, HostIoOpenMode, HostIoOpenOps, HostIoPread, HostIoPreadOps, HostIoReadlink, HostIoReadlinkOps,
    HostIoResult, HostIoStat,
};

use crate::file_access::Refusal;
use crate::policy::log_refusal;
use crate::target::TraceTarget;

/// The most files open at once for one client.
const MAX_OPEN: usize = 64;

/// The name gdb opens first, to learn whether `vFile` is there.
const GDB_PROBE: &[u8] = b"just probing";

/// Files the client opened, by descriptor.
#[derive(Debug, Default)]
pub struct OpenFiles {
    files: HashMap<u32, File>,
    next: u32,
}

fn path(name: &[u8]) -> &std::path::Path {
    std::path::Path::new(std::ffi::OsStr::from_bytes(name))
}

impl HostIo for TraceTarget {
    fn support_open(&mut self) -> Option<HostIoOpenOps<'_, Self>> {
        Some(self)
    }

    fn support_close(&mut self) -> Option<HostIoCloseOps<'_, Self>> {
        Some(self)
    }

    fn support_pread(&mut self) -> Option<HostIoPreadOps<'_, Self>> {
        Some(self)
    }

    fn support_fstat(&mut self) -> Option<HostIoFstatOps<'_, Self>> {
        Some(self)
    }

    fn support_readlink(&mut self) -> Option<HostIoReadlinkOps<'_, Self>> {
        Some(self)
    }
}

impl HostIoOpen for TraceTarget {
    fn open(&mut self, filename: &[u8], flags: HostIoOpenFlags, _mode: HostIoOpenMode) -> HostIoResult<u32, Self> {
        let writes = HostIoOpenFlags::O_WRONLY
            | HostIoOpenFlags::O_RDWR
            | HostIoOpenFlags::O_CREAT
            | HostIoOpenFlags::O_TRUNC
            | HostIoOpenFlags::O_APPEND;
        if flags.intersects(writes) {
            return Err(HostIoError::Errno(HostIoErrno::EACCES));
        }
        let open = &mut self.open_files;
        if open.files.len() >= MAX_OPEN {
            return Err(HostIoError::Errno(HostIoErrno::EMFILE));
        }
        let program = self.launch.as_ref().map(|launch| std::path::Path::new(&launch.program));
        let name = path(filename);
        let file = match self.file_access.open(self.trace.get_mut(), program, &self.policy.extra_files, name) {
            Ok(file) => file?,
            Err(Refusal::Missing) => return Err(HostIoError::Errno(HostIoErrno::ENOENT)),
            Err(Refusal::NotAllowed) => {
                // gdb opens this name to learn whether the server has `vFile`: not worth a log line.
                if filename != GDB_PROBE {
                    log_refusal(format_args!("vFile:open of {} (not a file of the served program)", name.display()));
                }
                return Err(HostIoError::Errno(HostIoErrno::EACCES));
            }
        };
        let fd = open.next;
        open.next = open.next.wrapping_add(1);
        open.files.insert(fd, file);
        Ok(fd)
    }
}

impl HostIoClose for TraceTarget {
    fn close(&mut self, fd: u32) -> HostIoResult<(), Self> {
        match self.open_files.files.remove(&fd) {
            Some(_) => Ok(()),
            None => Err(HostIoError::Errno(HostIoErrno::EBADF)),
        }
    }
}

impl HostIoPread for TraceTarget {
    fn pread(&mut self, fd: u32, count: usize, offset: u64, buf: &mut [u8]) -> HostIoResult<usize, Self> {
        let file = self.open_files.files.get(&fd).ok_or(HostIoError::Errno(HostIoErrno::EBADF))?;
        let n = count.min(buf.len());
        Ok(file.read_at(&mut buf[..n], offset)?)
    }
}

impl HostIoFstat for TraceTarget {
    fn fstat(&mut self, fd: u32) -> HostIoResult<HostIoStat, Self> {
        let file = self.open_files.files.get(&fd).ok_or(HostIoError::Errno(HostIoErrno::EBADF))?;
        let meta = file.metadata()?;
        // The protocol's fields are 32 bits wide where the kernel's are not: truncated, as gdbserver does.
        Ok(HostIoStat {
            st_dev: meta.dev() as u32,
            st_ino: meta.ino() as u32,
            st_mode: HostIoOpenMode::from_bits_truncate(meta.mode()),
            st_nlink: meta.nlink() as u32,
            st_uid: meta.uid(),
            st_gid: meta.gid(),
            st_rdev: meta.rdev() as u32,
            st_size: meta.size(),
            st_blksize: meta.blksize(),
            st_blocks: meta.blocks(),
            st_atime: meta.atime() as u32,
            st_mtime: meta.mtime() as u32,
            st_ctime: meta.ctime() as u32,
        })
    }
}

impl HostIoReadlink for TraceTarget {
    fn readlink(&mut self, filename: &[u8], buf: &mut [u8]) -> HostIoResult<usize, Self> {
        let name = path(filename);
        let program = self.launch.as_ref().map(|launch| std::path::Path::new(&launch.program));
        if !self.file_access.may_readlink(self.trace.get_mut(), program, &self.policy.extra_files, name) {
            log_refusal(format_args!("vFile:readlink of {} (not a file of the served program)", name.display()));
            return Err(HostIoError::Errno(HostIoErrno::EACCES));
        }
        let target = std::fs::read_link(name)?;
        let bytes = target.as_os_str().as_bytes();
        let n = bytes.len().min(buf.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        Ok(n)
    }
}

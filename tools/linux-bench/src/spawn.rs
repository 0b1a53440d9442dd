//! The four ways of starting the child that are timed. Each returns once
//! `waitpid` has reaped the child, with its wait status, or the errno of
//! the call that failed. Everything the child needs (path, argv, envp) is
//! prepared before the clock starts.

use std::ffi::{c_void, CString};
use std::io;
use std::ptr;

pub struct Child {
    /// The program's path, then its arguments; `argv` points into them (a
    /// CString's bytes stay put when the CString moves).
    args: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    envp: [*const libc::c_char; 1],
    /// The stack `clone` starts the namespaced child on. Without CLONE_VM the
    /// child gets a copy-on-write copy, so one stack serves every run.
    clone_stack: Vec<u8>,
}

const CLONE_STACK_BYTES: usize = 64 * 1024;

impl Child {
    pub fn new(path: &str) -> Child {
        Child::with_args(path, &[])
    }

    /// `path` run with `args` (argv[0] is `path`) and an empty environment.
    pub fn with_args(path: &str, args: &[String]) -> Child {
        let args: Vec<CString> = std::iter::once(path)
            .chain(args.iter().map(String::as_str))
            .map(|arg| CString::new(arg).expect("argument without NUL"))
            .collect();
        let argv = args
            .iter()
            .map(|arg| arg.as_ptr())
            .chain([ptr::null()])
            .collect();
        Child {
            args,
            argv,
            envp: [ptr::null()],
            clone_stack: vec![0; CLONE_STACK_BYTES],
        }
    }

    fn path(&self) -> *const libc::c_char {
        self.args[0].as_ptr()
    }

    /// In the child only: replaces it with the program, or exits 127.
    unsafe fn exec(&self) -> ! {
        libc::execve(self.path(), self.argv.as_ptr(), self.envp.as_ptr());
        libc::_exit(127)
    }
}

#[derive(Clone, Copy)]
pub enum Method {
    ForkExec,
    PosixSpawn,
    VforkExec,
    CloneNamespacesExec,
}

impl Method {
    pub const ALL: [Method; 4] = [
        Method::ForkExec,
        Method::PosixSpawn,
        Method::VforkExec,
        Method::CloneNamespacesExec,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::ForkExec => "fork+execve+waitpid",
            Method::PosixSpawn => "posix_spawn+waitpid",
            Method::VforkExec => "vfork+execve+waitpid",
            Method::CloneNamespacesExec => {
                "clone(NEWPID|NEWNS|NEWNET|NEWUTS|NEWIPC)+execve+waitpid"
            }
        }
    }

    /// Starts the child and waits for it: the timed work.
    pub fn run(self, child: &mut Child) -> io::Result<libc::c_int> {
        let pid = match self {
            Method::ForkExec => fork_exec(child)?,
            Method::PosixSpawn => posix_spawn(child)?,
            Method::VforkExec => vfork_exec(child)?,
            Method::CloneNamespacesExec => clone_namespaces_exec(child)?,
        };
        wait(pid)
    }
}

/// Reaps `pid` (retrying on EINTR) and returns its wait status.
pub fn wait(pid: libc::pid_t) -> io::Result<libc::c_int> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid int for waitpid to fill.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            return Ok(status);
        }
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EINTR) {
            return Err(error);
        }
    }
}

fn fork_exec(child: &Child) -> io::Result<libc::pid_t> {
    // SAFETY: single-threaded; the child only calls execve and _exit.
    match unsafe { libc::fork() } {
        -1 => Err(io::Error::last_os_error()),
        0 => unsafe { child.exec() },
        pid => Ok(pid),
    }
}

/// Starts the child with musl's posix_spawn and returns its pid without
/// waiting (service.rs starts memcached this way too).
pub fn posix_spawn(child: &Child) -> io::Result<libc::pid_t> {
    let mut pid = 0;
    // SAFETY: path, argv and envp are NUL-terminated and outlive the call;
    // null file actions and attributes mean the defaults.
    let error = unsafe {
        libc::posix_spawn(
            &mut pid,
            child.path(),
            ptr::null(),
            ptr::null(),
            child.argv.as_ptr() as *const *mut libc::c_char,
            child.envp.as_ptr() as *const *mut libc::c_char,
        )
    };
    if error == 0 {
        Ok(pid)
    } else {
        Err(io::Error::from_raw_os_error(error))
    }
}

/// vfork, then execve in the child, written as one assembly block: `libc`'s
/// `vfork` is deprecated because the child would run compiled Rust on the
/// parent's stack (rust-lang/libc#1596). Here the child runs only the
/// instructions below, touches no memory, and never returns into Rust.
/// On aarch64 there is no vfork system call: clone(CLONE_VM | CLONE_VFORK |
/// SIGCHLD) with the caller's stack is what musl's and glibc's vfork do.
fn vfork_exec(child: &Child) -> io::Result<libc::pid_t> {
    let result: i64;
    #[cfg(target_arch = "aarch64")]
    // SAFETY: see above; arm64 system calls change only x0, in both the
    // parent and the child (which starts with the parent's registers).
    unsafe {
        core::arch::asm!(
            "mov x8, #220", // clone(flags in x0, new stack 0 = the caller's)
            "svc #0",
            "cbnz x0, 3f",  // the parent: x0 is the pid or -errno
            "mov x0, x9",
            "mov x1, x10",
            "mov x2, x11",
            "mov x8, #221", // execve(path, argv, envp)
            "svc #0",
            "mov x0, #127",
            "mov x8, #93",  // exit(127): execve failed
            "svc #0",
            "3:",
            inout("x0") (libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD) as i64 => result,
            in("x1") 0,
            in("x9") child.path(),
            in("x10") child.argv.as_ptr(),
            in("x11") child.envp.as_ptr(),
            out("x8") _,
            options(nostack),
        );
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as above; x86_64 system calls change rax, rcx and r11 only.
    unsafe {
        core::arch::asm!(
            "mov eax, 58", // vfork()
            "syscall",
            "test rax, rax",
            "jnz 3f",
            "mov eax, 59", // execve(path in rdi, argv in rsi, envp in rdx)
            "syscall",
            "mov edi, 127",
            "mov eax, 60", // exit(127)
            "syscall",
            "3:",
            out("rax") result,
            in("rdi") child.path(),
            in("rsi") child.argv.as_ptr(),
            in("rdx") child.envp.as_ptr(),
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    if result < 0 {
        Err(io::Error::from_raw_os_error(-result as i32))
    } else {
        Ok(result as libc::pid_t)
    }
}

/// A container runtime's core: a child in new PID, mount, network, UTS and
/// IPC namespaces, which then execs the program.
fn clone_namespaces_exec(child: &mut Child) -> io::Result<libc::pid_t> {
    extern "C" fn exec_in_child(arg: *mut c_void) -> libc::c_int {
        // SAFETY: `arg` is the parent's `Child`, copied into this process.
        unsafe { (*(arg as *const Child)).exec() }
    }
    let flags = libc::CLONE_NEWPID
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | libc::SIGCHLD;
    // The stack grows down: start at its (16-byte aligned) top.
    let top = child.clone_stack.as_mut_ptr_range().end as usize & !15;
    let arg = child as *mut Child as *mut c_void;
    // SAFETY: the stack is ours and large enough for exec_in_child; without
    // CLONE_VM the child works on its own copy of everything.
    match unsafe { libc::clone(exec_in_child, top as *mut c_void, flags, arg) } {
        -1 => Err(io::Error::last_os_error()),
        pid => Ok(pid),
    }
}

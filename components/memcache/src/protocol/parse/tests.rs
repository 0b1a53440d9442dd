//! The parser alone: completeness, arity and what each request carries.

use super::*;

fn request(input: &[u8]) -> (Request<'_>, usize) {
    match parse(input, 1024) {
        Parsed::Request { request, consumed } => (request, consumed),
        other => panic!("{other:?}"),
    }
}

#[test]
fn incomplete_until_the_line_and_block_are_whole() {
    let full = b"set k 1 2 3\r\nabc\r\nrest";
    for end in 0..18 {
        assert_eq!(parse(&full[..end], 1024), Parsed::Incomplete, "{end}");
    }
    let (r, n) = request(full);
    assert_eq!(n, 18);
    let key = Key::new(b"k").unwrap();
    assert_eq!(
        r,
        Request::Store {
            op: StoreOp::Set,
            key,
            flags: 1,
            exptime: 2,
            data: b"abc",
            noreply: false
        }
    );
}

#[test]
fn storage_header_fields() {
    let (r, _) = request(b"cas k 4294967295 -1 0 18446744073709551615 noreply\r\n\r\n");
    let key = Key::new(b"k").unwrap();
    assert_eq!(
        r,
        Request::Store {
            op: StoreOp::Cas(u64::MAX),
            key,
            flags: u32::MAX,
            exptime: -1,
            data: b"",
            noreply: true
        }
    );
}

#[test]
fn too_large_is_reported_from_the_header_alone() {
    let key = Key::new(b"k").unwrap();
    assert_eq!(
        request(b"set k 0 0 1024\r\n"),
        (
            Request::TooLarge {
                op: StoreOp::Set,
                key,
                swallow: 1026,
                noreply: false
            },
            16
        )
    );
    assert_eq!(parse(b"set k 0 0 1023\r\n", 1024), Parsed::Incomplete);
}

#[test]
fn arity_errors() {
    for line in [
        &b"set k 0 0\r\n"[..],
        b"set k 0 0 1 noreply x\r\n",
        b"get\r\n",
        b"incr k\r\n",
        b"touch k\r\n",
        b"flush_all 1 noreply x\r\n",
        b"verbosity\r\n",
        b"gats 1\r\n",
    ] {
        assert_eq!(
            request(line).0,
            Request::Error {
                reply: ERROR,
                noreply: false
            },
            "{line:?}"
        );
    }
}

#[test]
fn get_keeps_the_rest_of_the_line() {
    assert_eq!(
        request(b"gets a  b\r\n").0,
        Request::Get {
            keys: b" a  b",
            cas: true
        }
    );
    assert_eq!(
        request(b"gat 5 a\r\n").0,
        Request::Gat {
            exptime: 5,
            keys: b" a",
            cas: false
        }
    );
}

#[test]
fn line_length_limit_does_not_depend_on_segmentation() {
    let mut long = std::vec![b'x'; MAX_LINE];
    assert_eq!(parse(&long, 1024), Parsed::Incomplete);
    long.push(b'\n');
    assert!(matches!(parse(&long, 1024), Parsed::Request { .. }));
    long.insert(0, b'x');
    assert_eq!(parse(&long, 1024), Parsed::LineTooLong);
    assert_eq!(parse(&long[..MAX_LINE + 1], 1024), Parsed::LineTooLong);
}

//! Hostile input: every refusal is a typed error with the right variant, and nothing
//! panics, recurses without bound or allocates past the limits.

use netkit::proto::pickle::{dumps, loads, Limits, PickleError, Protocol, Value};

fn limits() -> Limits {
    Limits::default()
}

fn forbidden(data: &[u8]) -> (String, String) {
    match loads(data, &limits()) {
        Err(PickleError::ForbiddenGlobal { module, name, .. }) => (module, name),
        other => panic!("expected ForbiddenGlobal for {data:?}, got {other:?}"),
    }
}

#[test]
fn every_dangerous_global_is_refused_by_every_opcode_that_names_one() {
    let marker = tempfile::tempdir().unwrap();
    let marker = marker.path().join("pwned");
    let cmd = format!("touch {}", marker.display());
    let targets = [
        ("os", "system"),
        ("posix", "system"),
        ("nt", "system"),
        ("subprocess", "Popen"),
        ("subprocess", "check_output"),
        ("builtins", "eval"),
        ("builtins", "exec"),
        ("builtins", "getattr"),
        ("builtins", "__import__"),
        ("builtins", "open"),
        ("builtins", "compile"),
        ("builtins", "type"),
        ("builtins", "list"),
        ("builtins", "dict"),
        ("__builtin__", "eval"),
        ("copyreg", "__newobj__"),
        ("pickle", "loads"),
        ("_pickle", "loads"),
        ("operator", "attrgetter"),
        ("functools", "partial"),
        ("builtins", "KeyError.__reduce__"),
        ("builtins", "Warning"),
        ("builtins", "UserWarning"),
    ];
    for (module, name) in targets {
        // GLOBAL + REDUCE (protocol 0), the classic exploit.
        let p0 = format!("c{module}\n{name}\n(V{cmd}\ntR.");
        assert_eq!(
            forbidden(p0.as_bytes()),
            (module.to_owned(), name.to_owned())
        );
        // STACK_GLOBAL (protocol 4).
        let mut p4 = vec![0x80, 4, 0x8c, module.len() as u8];
        p4.extend_from_slice(module.as_bytes());
        p4.extend_from_slice(&[0x94, 0x8c, name.len() as u8]);
        p4.extend_from_slice(name.as_bytes());
        p4.extend_from_slice(b"\x94\x93\x94)R.");
        assert_eq!(forbidden(&p4), (module.to_owned(), name.to_owned()));
        // INST and OBJ.
        let inst = format!("(V{cmd}\ni{module}\n{name}\n.");
        assert_eq!(
            forbidden(inst.as_bytes()),
            (module.to_owned(), name.to_owned())
        );
        let obj = format!("(c{module}\n{name}\nV{cmd}\no.");
        assert_eq!(
            forbidden(obj.as_bytes()),
            (module.to_owned(), name.to_owned())
        );
    }
    assert!(!marker.exists(), "a refused pickle ran code");
    let e = loads(b"cos\nsystem\n(S'x'\ntR.", &limits()).unwrap_err();
    assert_eq!(e.to_string(), "global os.system at byte 0 is not allowed");
    assert_eq!(e.offset(), 0);
}

#[test]
fn whitelisted_globals_are_only_callable_as_python_uses_them() {
    let bad_calls: &[&[u8]] = &[
        b"cbuiltins\nobject\n)R.", // object() is not data
        b"ccopyreg\n_reconstructor\n(cbuiltins\nKeyError\ncbuiltins\nobject\nNtR.",
        b"c_codecs\nencode\n(Vabc\nVutf-16\ntR.", // only latin-1
        b"c_codecs\nencode\n(V\\u20ac\nVlatin1\ntR.", // not latin-1 text
        b"cbuiltins\nset\n(I1\ntR.",              // set(1)
        b"cbuiltins\nbytes\n(I5\ntR.",            // bytes(5): 5 zero bytes in Python
        b"\x80\x04cbuiltins\nset\n\x93.",         // STACK_GLOBAL needs two strs
    ];
    for data in bad_calls {
        let e = loads(data, &limits()).unwrap_err();
        assert!(
            matches!(
                e,
                PickleError::BadCall { .. }
                    | PickleError::WrongType { .. }
                    | PickleError::StackUnderflow { .. }
            ),
            "{data:?}: {e:?}"
        );
    }
    // A class used as a value is refused, not returned.
    let e = loads(b"cbuiltins\nKeyError\n.", &limits()).unwrap_err();
    assert!(matches!(e, PickleError::WrongType { .. }), "{e:?}");
}

#[test]
fn refused_opcodes_have_their_own_errors() {
    type Check = fn(&PickleError) -> bool;
    let cases: &[(&[u8], Check)] = &[
        (b"Pfoo\n.", |e| {
            matches!(e, PickleError::PersistentId { offset: 0 })
        }),
        (b"NQ.", |e| {
            matches!(e, PickleError::PersistentId { offset: 1 })
        }),
        (b"\x82\x01.", |e| {
            matches!(e, PickleError::Extension { code: 1, .. })
        }),
        (b"\x83\x01\x02.", |e| {
            matches!(e, PickleError::Extension { code: 0x201, .. })
        }),
        (b"\x84\x01\x02\x03\x04.", |e| {
            matches!(
                e,
                PickleError::Extension {
                    code: 0x0403_0201,
                    ..
                }
            )
        }),
        (b"\x80\x05\x97.", |e| {
            matches!(e, PickleError::OutOfBandBuffer { offset: 2, .. })
        }),
        (b"\x80\x05C\x01a\x98.", |e| {
            matches!(e, PickleError::OutOfBandBuffer { offset: 5, .. })
        }),
        (b"\x80\x06N.", |e| {
            matches!(e, PickleError::UnsupportedProtocol { protocol: 6, .. })
        }),
        (b"\xff", |e| {
            matches!(
                e,
                PickleError::UnknownOpcode {
                    opcode: 0xff,
                    offset: 0
                }
            )
        }),
        (b"", |e| {
            matches!(e, PickleError::Truncated { offset: 0, .. })
        }),
        (b"N", |e| {
            matches!(e, PickleError::Truncated { offset: 1, .. })
        }),
        (b".", |e| matches!(e, PickleError::StackUnderflow { .. })),
        (b"(.", |e| matches!(e, PickleError::StackUnderflow { .. })),
        (b"a.", |e| matches!(e, PickleError::StackUnderflow { .. })),
        (b"Nt.", |e| matches!(e, PickleError::MarkNotFound { .. })),
        (b"h\x05.", |e| {
            matches!(e, PickleError::MemoMissing { index: 5, .. })
        }),
        (b"}]Ns.", |e| {
            matches!(
                e,
                PickleError::Unhashable {
                    type_name: "list",
                    ..
                }
            )
        }),
        (b"\x8f(}\x90.", |e| {
            matches!(
                e,
                PickleError::Unhashable {
                    type_name: "dict",
                    ..
                }
            )
        }),
        (b"}]N\x86Ns.", |e| {
            matches!(
                e,
                PickleError::Unhashable {
                    type_name: "list",
                    ..
                }
            )
        }),
        (b"NNa.", |e| {
            matches!(
                e,
                PickleError::WrongType {
                    expected: "list",
                    ..
                }
            )
        }),
        (b"(NNNd.", |e| matches!(e, PickleError::BadCall { .. })),
        (b"X\x02\x00\x00\x00\xff\xfe.", |e| {
            matches!(e, PickleError::InvalidUtf8 { offset: 0 })
        }),
        (b"X\x03\x00\x00\x00\xed\xa0\x80.", |_| false), // a lone surrogate is fine
        (b"I12x\n.", |e| matches!(e, PickleError::BadLiteral { .. })),
        (b"F1.5.5\n.", |e| {
            matches!(e, PickleError::BadLiteral { .. })
        }),
        (b"V\\u12\n.", |e| {
            matches!(e, PickleError::BadLiteral { .. })
        }),
    ];
    for (data, ok) in cases {
        match loads(data, &limits()) {
            Err(e) => assert!(ok(&e), "{data:?}: unexpected {e:?}"),
            Ok(v) => assert!(data.starts_with(b"X\x03"), "{data:?} loaded as {v:?}"),
        }
    }
}

#[test]
fn huge_declared_lengths_are_refused_before_allocating() {
    let cases: &[&[u8]] = &[
        b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f.", // BINUNICODE8 2^63-1
        b"\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x00\x40abc.", // BINBYTES8 2^62
        b"\x80\x05\x96\x00\x00\x00\x00\x00\x00\x00\x40.", // BYTEARRAY8 2^62
        b"X\xff\xff\xff\xffabc.",                         // BINUNICODE 4 GiB
        b"B\xff\xff\xff\xff.",                            // BINBYTES
        b"T\xff\xff\xff\x7f.",                            // BINSTRING
        b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x40N.", // FRAME 2^62
    ];
    for data in cases {
        match loads(data, &limits()) {
            Err(PickleError::Truncated {
                needed, available, ..
            }) => assert!(needed > available as u64),
            other => panic!("{data:?}: {other:?}"),
        }
    }
    // LONG4 of 2 GiB: over the int cap before anything else.
    let e = loads(b"\x80\x02\x8b\xff\xff\xff\x7f.", &limits()).unwrap_err();
    assert!(
        matches!(
            e,
            PickleError::IntTooLarge {
                size: 0x7fff_ffff,
                ..
            }
        ),
        "{e:?}"
    );
    let e = loads(b"\x80\x02\x8b\xff\xff\xff\xff.", &limits()).unwrap_err();
    assert!(
        matches!(e, PickleError::BadLiteral { .. }),
        "negative LONG4 length: {e:?}"
    );
    // 5000-digit text int: Python 3.11's own int_max_str_digits refuses it too.
    let text = format!("L{}\n.", "9".repeat(5000));
    let e = loads(text.as_bytes(), &limits()).unwrap_err();
    assert!(
        matches!(e, PickleError::IntTooLarge { size: 5000, .. }),
        "{e:?}"
    );
}

#[test]
fn deep_nesting_is_refused_without_recursing() {
    // TUPLE1 applied a million times: depth a million from one byte each.
    let mut data = vec![0x80, 4, b'N'];
    data.extend(std::iter::repeat_n(0x85, 1_000_000));
    data.push(b'.');
    let e = loads(&data, &limits()).unwrap_err();
    assert!(
        matches!(e, PickleError::TooDeep { limit: 1000, .. }),
        "{e:?}"
    );

    // Lists nested by APPEND after they were built (the depth is only known at the end).
    let n = 200_000;
    let mut data = vec![0x80, 4];
    data.extend(std::iter::repeat_n(b']', n));
    data.extend(std::iter::repeat_n(b'a', n - 1));
    data.push(b'.');
    let e = loads(&data, &limits()).unwrap_err();
    assert!(matches!(e, PickleError::TooDeep { .. }), "{e:?}");

    // Just under the limit loads, and round-trips.
    let mut data = vec![0x80, 4];
    data.extend(std::iter::repeat_n(b']', 999));
    data.extend(std::iter::repeat_n(b'a', 998));
    data.push(b'.');
    let v = loads(&data, &limits()).unwrap();
    assert_eq!(loads(&dumps(&v, Protocol::V4), &limits()).unwrap(), v);
    let tight = Limits {
        max_depth: 998,
        ..Limits::default()
    };
    assert!(matches!(
        loads(&data, &tight),
        Err(PickleError::TooDeep { limit: 998, .. })
    ));
}

#[test]
fn memo_bombs_stay_shared_and_small() {
    // t0 = []; t(k+1) = (tk, tk): 2^900 leaves if expanded, ~5 KB of pickle.
    let mut data = vec![0x80, 4, b']', 0x94];
    for k in 0..900u32 {
        data.push(b'j');
        data.extend_from_slice(&k.to_le_bytes());
        data.push(b'j');
        data.extend_from_slice(&k.to_le_bytes());
        data.extend_from_slice(&[0x86, 0x94]);
    }
    data.push(b'.');
    // It loads within a 1 MiB budget: nothing was copied.
    let small = Limits {
        max_alloc: 1 << 20,
        ..Limits::default()
    };
    let v = loads(&data, &small).unwrap();
    // And is written back with GETs, about as small as it came.
    let again = dumps(&v, Protocol::V4);
    assert!(again.len() < 2 * data.len(), "{} bytes", again.len());
    assert!(v == v.clone());

    // A 22 KB pickle that makes a 1000-element list, then asks for set(list) 2700 times:
    // each call really allocates, so the budget stops it.
    let mut data = vec![0x80, 4, b']', 0x94, b'('];
    for i in 0..1000u16 {
        data.push(b'M');
        data.extend_from_slice(&i.to_le_bytes());
    }
    data.extend_from_slice(b"e\x8c\x08builtins\x94\x8c\x03set\x94\x93\x94");
    for _ in 0..2700 {
        data.extend_from_slice(b"h\x03h\x00\x85R0");
    }
    data.extend_from_slice(b"N.");
    assert!(data.len() < 22_000, "{}", data.len());
    let e = loads(&data, &small).unwrap_err();
    assert!(matches!(e, PickleError::AllocLimit { .. }), "{e:?}");
    // The default budget (256 MiB) allows it: 2.7 M set entries is real work, not a blow-up.
    loads(&data, &limits()).unwrap();
}

#[test]
fn memo_entry_cap() {
    let mut data = vec![0x80, 4, b'N'];
    data.extend(std::iter::repeat_n(0x94, 5000));
    data.push(b'.');
    let tight = Limits {
        max_memo: 4096,
        ..Limits::default()
    };
    assert!(matches!(
        loads(&data, &tight),
        Err(PickleError::MemoLimit { limit: 4096, .. })
    ));
    assert_eq!(loads(&data, &limits()).unwrap(), Value::None);
}

fn rich_value() -> Value {
    let shared = Value::list(vec!["shared".into(), 1.into()]);
    let e = Value::exception("KeyError", vec!["spam".into()]);
    if let Value::Exception(o) = &e {
        o.borrow_mut().state = Some(Value::dict([(Value::from("code"), Value::Int(7))]).unwrap());
    }
    let l = Value::list(vec![]);
    if let Value::List(o) = &l {
        o.borrow_mut()
            .push(l.downgrade().map(Value::Recursive).unwrap());
    }
    Value::tuple(vec![
        Value::None,
        true.into(),
        Value::Int(-5),
        Value::Int(1 << 40),
        Value::int(num_bigint::BigInt::from(3) << 200usize),
        1.5.into(),
        "é😀".into(),
        Value::bytes(b"\x00\xff"),
        Value::bytearray(b"ba".to_vec()),
        shared.clone(),
        shared,
        Value::dict([
            (Value::from("k"), Value::Int(1)),
            (Value::Int(2), Value::tuple(vec![])),
        ])
        .unwrap(),
        Value::set([Value::Int(1), Value::from("x")]).unwrap(),
        Value::frozenset([Value::bytes(b"f")]).unwrap(),
        e,
        l,
    ])
}

#[test]
fn every_truncation_and_byte_flip_is_a_typed_error_not_a_panic() {
    let v = rich_value();
    for p in [Protocol::V2, Protocol::V3, Protocol::V4, Protocol::V5] {
        let data = dumps(&v, p);
        assert_eq!(loads(&data, &limits()).unwrap(), v);
        for cut in 0..data.len() {
            assert!(
                loads(&data[..cut], &limits()).is_err(),
                "{p:?} prefix of {cut} bytes loaded"
            );
        }
        for i in 0..data.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = data.clone();
                bad[i] ^= flip;
                let _ = loads(&bad, &limits());
            }
        }
    }
}

/// The deepest value the default limits accept round-trips (encode, compare, drop) on a
/// test thread's 2 MiB stack, even in a debug build.
#[test]
fn depth_1000_round_trips_on_a_small_stack() {
    {
        let depth = 1000;
        let mut data = vec![0x80, 4];
        data.extend(std::iter::repeat_n(b']', depth));
        data.extend(std::iter::repeat_n(b'a', depth - 1));
        data.push(b'.');
        let v = loads(&data, &limits()).unwrap();
        let b = dumps(&v, Protocol::V4);
        let w = loads(&b, &limits()).unwrap();
        assert!(w == v);
        drop(v);
    }
}

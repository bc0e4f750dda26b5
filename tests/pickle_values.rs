//! Identity (shared and recursive references), exceptions, and the JSON and serde views.

use std::process::Command;

use netkit::proto::pickle::{
    dumps, from_json, from_value, loads, to_json, to_value, Limits, Protocol, Recursive, Value,
};

fn load(b: &[u8]) -> Value {
    loads(b, &Limits::default()).unwrap()
}

/// Bytes CPython 3.11 writes (`pickle.dumps(x, 4)`), read and re-written identically.
#[test]
fn recursive_and_shared_pickles_from_python_round_trip_exactly() {
    let cases: &[(&str, &[u8])] = &[
        // l = []; l.append(l)
        ("list in itself", b"\x80\x04\x95\x06\x00\x00\x00\x00\x00\x00\x00]\x94h\x00a."),
        // l = []; t = (l,); l.append(t); t
        ("tuple through list", b"\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00]\x94h\x00\x85\x94a0h\x01."),
        // the same, a 5-tuple (POP_MARK path)
        (
            "5-tuple through list",
            b"\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00(]\x94(h\x00K\x01K\x02K\x03K\x04t\x94aK\x01K\x02K\x03K\x041h\x01.",
        ),
        // e = KeyError([]); e.args[0].append(e)
        (
            "exception in its args",
            b"\x80\x04\x95+\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x08KeyError\x94\x93\x94]\x94h\x02h\x03\x85\x94R\x94a0h\x04R0h\x05.",
        ),
        // ['a', 'a', 'ab', 'ab'] with constants shared
        ("shared strs", b"\x80\x04\x95\x12\x00\x00\x00\x00\x00\x00\x00]\x94(\x8c\x01a\x94h\x01\x8c\x02ab\x94h\x02e."),
        // protocol 2: l = []; t = (l,); l.append(t); t
        ("protocol 2 recursion", b"\x80\x02]q\x00h\x00\x85q\x01a0h\x01."),
    ];
    for (name, bytes) in cases {
        let v = load(bytes);
        let proto = if bytes[1] == 2 {
            Protocol::V2
        } else {
            Protocol::V4
        };
        assert_eq!(dumps(&v, proto), bytes.to_vec(), "{name}");
        assert_eq!(load(&dumps(&v, Protocol::V5)), v, "{name}");
    }
}

#[test]
fn a_list_containing_itself_is_the_same_node_and_does_not_leak() {
    let v = load(b"\x80\x04\x95\x06\x00\x00\x00\x00\x00\x00\x00]\x94h\x00a.");
    let Value::List(l) = &v else { panic!("{v:?}") };
    let inner = l.borrow()[0].clone();
    let Value::Recursive(Recursive::List(w)) = &inner else {
        panic!("{inner:?}")
    };
    assert!(w.upgrade().unwrap().ptr_eq(l));
    assert_eq!(format!("{v:?}"), "[[...]]");
    let weak = l.downgrade();
    drop(inner);
    drop(v);
    assert!(weak.upgrade().is_none(), "the cycle kept itself alive");
}

#[test]
fn the_same_list_twice_stays_one_list() {
    // x = [1]; pickle.dumps([x, x], 4)
    let bytes = b"\x80\x04\x95\x0c\x00\x00\x00\x00\x00\x00\x00]\x94(]\x94K\x01ah\x01e.";
    let v = load(bytes);
    let items = v.to_items().unwrap();
    let (Value::List(a), Value::List(b)) = (&items[0], &items[1]) else {
        panic!()
    };
    assert!(a.ptr_eq(b));
    a.borrow_mut().push(2.into());
    assert_eq!(format!("{v:?}"), "[[1, 2], [1, 2]]");
    // Built by hand, sharing is written as Python writes it.
    let x = Value::list(vec![1.into()]);
    assert_eq!(
        dumps(&Value::list(vec![x.clone(), x]), Protocol::V4),
        bytes.to_vec()
    );
}

fn python(code: &str, stdin: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("python3")
        .args(["-c", code])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python failed");
    out.stdout
}

#[test]
fn exceptions_round_trip_python_rust_python() {
    let from_python = python(
        "import pickle,sys; e = KeyError('spam'); e.code = 42; sys.stdout.buffer.write(pickle.dumps(e))",
        b"",
    );
    let v = load(&from_python);
    let Value::Exception(e) = &v else {
        panic!("{v:?}")
    };
    assert_eq!(e.borrow().class, "KeyError");
    assert_eq!(*e.borrow().args.borrow(), vec![Value::from("spam")]);
    assert_eq!(
        e.borrow().state.as_ref().unwrap().get_item(&"code".into()),
        Some(Value::Int(42))
    );
    assert_eq!(dumps(&v, Protocol::V4), from_python);

    // What RPCProxy does with a reply: raise it if it is an exception.
    let ours = dumps(
        &Value::exception("KeyError", vec!["spam".into()]),
        Protocol::V4,
    );
    let out = python(
        "import pickle,sys\n\
         r = pickle.loads(sys.stdin.buffer.read())\n\
         try:\n    raise r\n\
         except KeyError as e:\n    print(type(e).__name__, e.args == ('spam',), repr(e))",
        &ours,
    );
    assert_eq!(
        String::from_utf8(out).unwrap().trim(),
        "KeyError True KeyError('spam')"
    );
    for (class, p) in [
        ("TypeError", Protocol::V2),
        ("ZeroDivisionError", Protocol::V5),
        ("ConnectionError", Protocol::V4),
    ] {
        let ours = dumps(&Value::exception(class, vec!["x".into(), 1.into()]), p);
        let out = python("import pickle,sys; e = pickle.loads(sys.stdin.buffer.read()); print(type(e).__name__, e.args)", &ours);
        assert_eq!(
            String::from_utf8(out).unwrap().trim(),
            format!("{class} ('x', 1)")
        );
    }
}

#[test]
fn json_view_round_trips_every_type() {
    let v = Value::list(vec![
        Value::None,
        true.into(),
        (-3).into(),
        Value::int(num_bigint::BigInt::from(1) << 100usize),
        u64::MAX.into(),
        2.5.into(),
        f64::NAN.into(),
        f64::NEG_INFINITY.into(),
        "text".into(),
        Value::Str(netkit::proto::pickle::PyStr::from_code_points([0xd800, 0x61]).unwrap()),
        Value::bytes(b"\x00hi"),
        Value::bytearray(b"hi".to_vec()),
        Value::tuple(vec![1.into(), Value::tuple(vec![])]),
        Value::dict([(Value::from("a"), 1.into())]).unwrap(),
        Value::dict([
            (Value::Int(1), "x".into()),
            (Value::from("$bytes"), Value::None),
        ])
        .unwrap(),
        Value::set([Value::Int(1)]).unwrap(),
        Value::frozenset([]).unwrap(),
        Value::exception("KeyError", vec!["k".into()]),
    ]);
    let j = to_json(&v).unwrap();
    assert_eq!(
        j.to_string(),
        r#"[null,true,-3,{"$int":"1267650600228229401496703205376"},18446744073709551615,2.5,{"$float":"nan"},{"$float":"-inf"},"text",{"$str":[55296,97]},{"$bytes":"AGhp"},{"$bytearray":"aGk="},{"$tuple":[1,{"$tuple":[]}]},{"a":1},{"$dict":[[1,"x"],["$bytes",null]]},{"$set":[1]},{"$frozenset":[]},{"$exception":"KeyError","args":["k"]}]"#
    );
    assert_eq!(from_json(&j).unwrap(), v);
    let rec = load(b"\x80\x04\x95\x06\x00\x00\x00\x00\x00\x00\x00]\x94h\x00a.");
    assert!(to_json(&rec).is_err());
    assert!(from_json(&serde_json::json!({"$nope": 1})).is_err());
}

#[test]
fn serde_plain_data() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    enum Op {
        Add,
        Scale(f64),
        Move { dx: i32, dy: i32 },
    }
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Req {
        name: String,
        args: (i64, u64),
        tags: Vec<String>,
        opt: Option<bool>,
        ops: Vec<Op>,
        big: u128,
    }
    let r = Req {
        name: "add".into(),
        args: (-1, u64::MAX),
        tags: vec!["a".into()],
        opt: None,
        ops: vec![Op::Add, Op::Scale(2.0), Op::Move { dx: 1, dy: -1 }],
        big: u128::MAX,
    };
    let v = to_value(&r).unwrap();
    assert_eq!(
        format!("{v:?}"),
        "{'name': 'add', 'args': (-1, 18446744073709551615), 'tags': ['a'], 'opt': None, \
         'ops': ['Add', {'Scale': 2.0}, {'Move': {'dx': 1, 'dy': -1}}], \
         'big': 340282366920938463463374607431768211455}"
    );
    let back: Req = from_value(&load(&dumps(&v, Protocol::V4))).unwrap();
    assert_eq!(back, r);
    assert!(from_value::<Req>(&Value::exception("KeyError", vec![])).is_err());
}

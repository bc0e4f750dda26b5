//! Documents from an attacker: every one must end in a typed error, quickly, without a
//! panic and without expanding anything.

use netkit::proto::xmlrpc::{
    encode_call, parse_call, parse_response, DateTime, Limits, Value, XmlRpcError,
};

fn lim() -> Limits {
    Limits::default()
}

fn call_doc(inner: &str) -> String {
    format!("<?xml version='1.0'?><methodCall><methodName>set</methodName><params><param>{inner}</param></params></methodCall>")
}

#[test]
fn billion_laughs_is_refused_at_the_doctype() {
    let mut doc =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    doc.push_str(" <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n");
    for i in 2..=9 {
        let prev = format!("&lol{};", i - 1).repeat(10);
        doc.push_str(&format!(" <!ENTITY lol{i} \"{prev}\">\n"));
    }
    doc.push_str("]>\n<methodCall><methodName>x</methodName><params><param><value>&lol9;</value></param></params></methodCall>");
    assert_eq!(
        parse_call(doc.as_bytes(), &lim()),
        Err(XmlRpcError::DoctypeForbidden)
    );
}

#[test]
fn external_entities_are_refused() {
    let xxe = "<?xml version=\"1.0\"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\
               <methodCall><methodName>get</methodName><params><param><value>&xxe;</value></param></params></methodCall>";
    assert_eq!(
        parse_call(xxe.as_bytes(), &lim()),
        Err(XmlRpcError::DoctypeForbidden)
    );
    let public = "<!DOCTYPE methodCall PUBLIC \"-//x//y\" \"http://127.0.0.1:1/evil.dtd\"><methodCall><methodName>x</methodName></methodCall>";
    assert_eq!(
        parse_call(public.as_bytes(), &lim()),
        Err(XmlRpcError::DoctypeForbidden)
    );
    // Without a DTD the reference is simply undefined.
    let bare = call_doc("<value>&xxe;</value>");
    assert_eq!(
        parse_call(bare.as_bytes(), &lim()),
        Err(XmlRpcError::UndefinedEntity("xxe".into()))
    );
    let in_attr = call_doc("<value a='&xxe;'>x</value>");
    assert_eq!(
        parse_call(in_attr.as_bytes(), &lim()),
        Err(XmlRpcError::UndefinedEntity("xxe".into()))
    );
}

#[test]
fn doctype_anywhere_is_an_error() {
    for doc in [
        "<!DOCTYPE methodCall><methodCall><methodName>x</methodName></methodCall>".to_owned(),
        "<?xml version='1.0'?>\n<!DOCTYPE methodCall [ ]>\n<methodCall><methodName>x</methodName></methodCall>".to_owned(),
        "<methodCall><methodName>x</methodName></methodCall><!DOCTYPE methodCall>".to_owned(),
        call_doc("<value><!DOCTYPE x></value>"),
        call_doc("<value><!ENTITY x 'y'></value>"),
    ] {
        let err = parse_call(doc.as_bytes(), &lim()).expect_err(&doc);
        assert!(
            matches!(err, XmlRpcError::DoctypeForbidden | XmlRpcError::Malformed { .. }),
            "{doc}: {err:?}"
        );
    }
    assert_eq!(
        parse_call(b"<!DOCTYPE x><methodCall/>", &lim()),
        Err(XmlRpcError::DoctypeForbidden)
    );
}

#[test]
fn deep_nesting_is_capped_not_recursed() {
    let n = 10_000;
    let doc = call_doc(&format!(
        "{}{}",
        "<value><array><data>".repeat(n),
        "</data></array></value>".repeat(n)
    ));
    assert_eq!(
        parse_call(doc.as_bytes(), &lim()),
        Err(XmlRpcError::TooDeep { limit: 512 })
    );
    let plain = format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
    assert_eq!(
        parse_response(plain.as_bytes(), &lim()),
        Err(XmlRpcError::TooDeep { limit: 512 })
    );
    // Unclosed nesting stops at the cap too, not at the end of input.
    let open = "<a>".repeat(n);
    assert_eq!(
        parse_response(open.as_bytes(), &lim()),
        Err(XmlRpcError::TooDeep { limit: 512 })
    );
    // The decoder itself is iterative: with the cap lifted it copes.
    let n = 3_000;
    let doc = call_doc(&format!(
        "{}{}",
        "<value><array><data>".repeat(n),
        "</data></array></value>".repeat(n)
    ));
    let big = Limits {
        max_depth: usize::MAX,
        ..lim()
    };
    let call = parse_call(doc.as_bytes(), &big).expect("deep but allowed");
    let mut v = &call.params[0];
    let mut depth = 0;
    while let Value::Array(items) = v {
        depth += 1;
        match items.first() {
            Some(inner) => v = inner,
            None => break,
        }
    }
    assert_eq!(depth, n);
}

#[test]
fn size_cap_is_checked_before_parsing() {
    let limits = Limits {
        max_document_size: 100,
        ..lim()
    };
    let doc = call_doc(&"<value>x</value>".repeat(10));
    assert_eq!(
        parse_call(doc.as_bytes(), &limits),
        Err(XmlRpcError::DocumentTooLarge {
            size: doc.len(),
            limit: 100
        })
    );
    let exact = Limits {
        max_document_size: doc.len(),
        ..lim()
    };
    assert!(parse_call(doc.as_bytes(), &exact).is_ok());
    let huge = vec![b' '; (1 << 20) + 1];
    assert!(matches!(
        parse_response(&huge, &lim()),
        Err(XmlRpcError::DocumentTooLarge { .. })
    ));
}

#[test]
fn member_cap_covers_arrays_structs_and_params() {
    let limits = Limits {
        max_members: 3,
        ..lim()
    };
    let arr = |n: usize| {
        call_doc(&format!(
            "<value><array><data>{}</data></array></value>",
            "<value>1</value>".repeat(n)
        ))
    };
    assert!(parse_call(arr(3).as_bytes(), &limits).is_ok());
    assert_eq!(
        parse_call(arr(4).as_bytes(), &limits),
        Err(XmlRpcError::TooManyMembers { limit: 3 })
    );
    let st = |n: usize| {
        let members: String = (0..n)
            .map(|i| format!("<member><name>k{i}</name><value>v</value></member>"))
            .collect();
        call_doc(&format!("<value><struct>{members}</struct></value>"))
    };
    assert!(parse_call(st(3).as_bytes(), &limits).is_ok());
    assert_eq!(
        parse_call(st(4).as_bytes(), &limits),
        Err(XmlRpcError::TooManyMembers { limit: 3 })
    );
    let params: Vec<Value> = (0..4).map(Value::from).collect();
    assert_eq!(
        parse_call(&encode_call("f", &params), &limits),
        Err(XmlRpcError::TooManyMembers { limit: 3 })
    );
    assert!(parse_call(&encode_call("f", &params[..3]), &limits).is_ok());
}

#[test]
fn many_repeated_struct_names_stay_linear() {
    // 15 000 members, 20 distinct names: dict semantics keep 20, first position, last value.
    let members: String = (0..15_000)
        .map(|i| {
            format!(
                "<member><name>k{}</name><value><int>{i}</int></value></member>",
                i % 20
            )
        })
        .collect();
    let doc = call_doc(&format!("<value><struct>{members}</struct></value>"));
    let call = parse_call(doc.as_bytes(), &lim()).expect("parses");
    let Value::Struct(m) = &call.params[0] else {
        panic!("struct")
    };
    assert_eq!(m.len(), 20);
    assert_eq!(m[0], ("k0".into(), Value::Int(14_980)));
    assert_eq!(m[19], ("k19".into(), Value::Int(14_999)));
}

fn every_type_call() -> Vec<u8> {
    encode_call(
        "kv.set",
        &[
            Value::from("key & <stuff>"),
            Value::Struct(vec![
                ("i".into(), Value::Int(-5)),
                ("b".into(), Value::Bool(true)),
                ("d".into(), Value::Double(1.5e300)),
                (
                    "t".into(),
                    Value::DateTime(DateTime::new("20240229T13:05:09")),
                ),
                ("raw".into(), Value::Base64((0..=255).collect())),
                ("n".into(), Value::Nil),
                (
                    "a".into(),
                    Value::Array(vec![Value::from("x"), Value::Array(vec![])]),
                ),
            ]),
        ],
    )
}

#[test]
fn every_truncation_is_an_error() {
    let doc = every_type_call();
    let complete = doc.iter().rposition(|&b| b == b'>').expect("end") + 1;
    assert!(parse_call(&doc, &lim()).is_ok());
    assert!(parse_call(&doc[..complete], &lim()).is_ok());
    for cut in 0..complete {
        match parse_call(&doc[..cut], &lim()) {
            Err(_) => {}
            Ok(call) => panic!("prefix of {cut} bytes parsed: {call:?}"),
        }
    }
}

#[test]
fn single_byte_corruptions_never_panic() {
    let doc = every_type_call();
    for i in 0..doc.len() {
        for b in [b'<', b'>', b'&', b'/', 0u8, 0xFF, b'x'] {
            let mut bad = doc.clone();
            bad[i] = b;
            let _ = parse_call(&bad, &lim());
            let _ = parse_response(&bad, &lim());
        }
        let mut cut = doc.clone();
        cut.remove(i);
        let _ = parse_call(&cut, &lim());
    }
}

#[test]
fn malformed_xml_gives_malformed() {
    for doc in [
        &b"<methodCall><methodName>x</methodName></methodCall"[..],
        b"<methodCall><methodName>x</methodName></methodcall>",
        b"<methodCall><methodName>x\xff</methodName></methodCall>",
        b"<methodCall><methodName>x\x01</methodName></methodCall>",
        b"<methodCall><methodName>x</methodName></methodCall><methodCall/>",
        b"text<methodCall/>",
        b"",
        b"   ",
        b"<methodCall><methodName a=>x</methodName></methodCall>",
        b"<methodCall><1x/></methodCall>",
        b"<methodCall><!-- a -- b --></methodCall>",
        b"<methodCall><methodName>&#xD800;</methodName></methodCall>",
        b"<methodCall><methodName>&#99999999;</methodName></methodCall>",
    ] {
        let err = parse_call(doc, &lim()).expect_err(&String::from_utf8_lossy(doc));
        assert!(
            matches!(err, XmlRpcError::Malformed { .. }),
            "{}: {err:?}",
            String::from_utf8_lossy(doc)
        );
        assert_eq!(err.to_fault().code, 1);
    }
    assert!(matches!(
        parse_call(b"\xFF\xFE<\0m\0/\0>\0", &lim()),
        Err(XmlRpcError::UnsupportedEncoding(_))
    ));
    assert!(matches!(
        parse_call(b"<?xml version='1.0' encoding='shift_jis'?><a/>", &lim()),
        Err(XmlRpcError::UnsupportedEncoding(_))
    ));
}

#[test]
fn latin1_documents_are_transcoded() {
    let doc = b"<?xml version='1.0' encoding='iso-8859-1'?><methodCall><methodName>f</methodName><params><param><value>caf\xe9</value></param></params></methodCall>";
    let call = parse_call(doc, &lim()).expect("latin-1");
    assert_eq!(call.params, [Value::from("café")]);
}

#[test]
fn errors_become_python_style_faults() {
    let cases = [
        (
            "<value><int>x</int></value>",
            "<class 'ValueError'>:invalid literal for int() with base 10: 'x'",
        ),
        (
            "<value><double>x</double></value>",
            "<class 'ValueError'>:could not convert string to float: 'x'",
        ),
        (
            "<value><boolean>2</boolean></value>",
            "<class 'TypeError'>:bad boolean value",
        ),
        (
            "<value><base64>YQ</base64></value>",
            "<class 'binascii.Error'>:Incorrect padding",
        ),
        (
            "<value><data/></value>",
            "<class 'xmlrpc.client.ResponseError'>:ResponseError(\"unknown tag 'data'\")",
        ),
        (
            "<value><struct><member><name>a</name></member></struct></value>",
            "<class 'IndexError'>:list index out of range",
        ),
    ];
    for (inner, want) in cases {
        let err = parse_call(call_doc(inner).as_bytes(), &lim()).expect_err(inner);
        assert_eq!(err.to_fault().string, want, "{inner}");
    }
}

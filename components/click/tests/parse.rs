//! The configuration language: good configurations build the graph they
//! describe; each kind of error is reported with its exact line, column,
//! element and quoted text.

use edgeos_click::testing::{
    CHAIN_3, CHAIN_6, FIREWALL_NAT, FUZZ_CONFIGS, LOAD_BALANCER, QUEUE_LOOP,
};
use edgeos_click::{check, Class, ConfigError, ErrorKind, Graph, Summary};

fn error(text: &str) -> ConfigError {
    match check(text) {
        Ok(s) => panic!("accepted: {s:?}\n{text}"),
        Err(e) => e,
    }
}

/// Asserts the error's kind, line, column, element and quoted value.
#[track_caller]
fn assert_error(text: &str, kind: ErrorKind, line: u32, column: u32, element: &str, value: &str) {
    let e = error(text);
    assert_eq!(
        (
            e.kind,
            e.line,
            e.column,
            e.element.as_str(),
            e.value.as_str()
        ),
        (kind, line, column, element, value),
        "{e}"
    );
}

#[test]
fn the_sample_configurations_build() {
    for config in FUZZ_CONFIGS {
        check(config).unwrap_or_else(|e| panic!("{e}\n{config}"));
    }
    assert_eq!(
        check(CHAIN_3).unwrap(),
        Summary {
            elements: 5,
            connections: 4,
            queue_slots: 0
        }
    );
    assert_eq!(
        check(CHAIN_6).unwrap(),
        Summary {
            elements: 8,
            connections: 7,
            queue_slots: 0
        }
    );
    assert_eq!(check(QUEUE_LOOP).unwrap().queue_slots, 4);
    assert_eq!(check(FIREWALL_NAT).unwrap().elements, 10);
    assert_eq!(check(LOAD_BALANCER).unwrap().elements, 8);
}

#[test]
fn declarations_connections_ports_and_comments() {
    let text = "
        /* a block
           comment */ src :: FromRing;   // a line comment
        c :: Classifier(12/0800, // the IPv4 pattern
                        -);
        src -> c;
        c [0] -> [0] Counter -> out :: ToRing;
        c[1]->Discard
    ";
    let mut g: Graph = Graph::new();
    let s = g.configure(text).unwrap();
    assert_eq!(
        s,
        Summary {
            elements: 5,
            connections: 4,
            queue_slots: 0
        }
    );
    let names: Vec<_> = (0..g.len())
        .map(|i| g.name(edgeos_click::ElementId(i as u8)).unwrap())
        .collect();
    assert_eq!(names, ["src", "c", "Counter@3", "out", "Discard@5"]);
    assert_eq!(g.class(g.find("Counter@3").unwrap()), Some(Class::Counter));
    assert_eq!(g.class(g.find("c").unwrap()), Some(Class::Classifier));
}

#[test]
fn empty_statements_and_a_missing_last_semicolon_are_fine() {
    check(";;FromRing -> ToRing;;").unwrap();
    check("FromRing -> ToRing").unwrap();
    check("a :: FromRing; b :: ToRing; a -> b").unwrap();
    check("FromRing() -> Counter() -> ToRing()").unwrap();
}

#[test]
fn several_outputs_may_feed_one_input() {
    check("f :: FromRing; c :: Classifier(12/0800, -); t :: ToRing; f -> c; c[0] -> t; c[1] -> t;")
        .unwrap();
}

#[test]
fn reconfiguring_replaces_everything_and_a_failure_leaves_nothing() {
    let mut g: Graph = Graph::new();
    g.configure(FIREWALL_NAT).unwrap();
    assert!(g.is_configured());
    g.configure(CHAIN_3).unwrap();
    assert_eq!(g.len(), 5);
    assert!(g.configure("FromRing -> Nope;").is_err());
    assert!(!g.is_configured());
    assert_eq!(g.len(), 0);
}

// ---- lexical and syntax errors ----

#[test]
fn unterminated_comment() {
    assert_error(
        "FromRing -> ToRing;\n  /* no end",
        ErrorKind::Syntax("unterminated comment"),
        2,
        3,
        "",
        "/*",
    );
}

#[test]
fn unbalanced_parentheses() {
    assert_error(
        "FromRing -> Strip(14 -> ToRing;",
        ErrorKind::Syntax("unbalanced \"(\": no matching \")\""),
        1,
        18,
        "",
        "(",
    );
    assert_error(
        "FromRing -> Counter 14) -> ToRing;",
        ErrorKind::Syntax("expected \";\" or \"->\""),
        1,
        21,
        "",
        "14",
    );
    assert_error(
        "FromRing) -> ToRing;",
        ErrorKind::Syntax("unbalanced \")\""),
        1,
        9,
        "",
        ")",
    );
}

#[test]
fn stray_characters_and_missing_pieces() {
    assert_error("FromRing => ToRing;", ErrorKind::Syntax("expected an element, \"->\", \"::\", \"[\" or \";\" (compound elements are not supported)"), 1, 10, "", "=");
    assert_error(
        "FromRing -> ;",
        ErrorKind::Syntax("expected an element name or class"),
        1,
        13,
        "",
        ";",
    );
    assert_error(
        "FromRing ->",
        ErrorKind::Syntax("expected an element name or class"),
        1,
        12,
        "",
        "",
    );
    assert_error(
        "a :: ;",
        ErrorKind::Syntax("expected an element class after \"::\""),
        1,
        6,
        "",
        ";",
    );
    assert_error(
        "FromRing ToRing;",
        ErrorKind::Syntax("expected \";\" or \"->\""),
        1,
        10,
        "",
        "ToRing",
    );
    assert_error(
        "FromRing -> $;",
        ErrorKind::Syntax("expected an element, \"->\", \"::\", \"[\" or \";\""),
        1,
        13,
        "",
        "$",
    );
}

#[test]
fn bad_port_syntax() {
    assert_error(
        "FromRing[x] -> ToRing;",
        ErrorKind::Syntax("expected a port number"),
        1,
        10,
        "",
        "x",
    );
    assert_error(
        "FromRing[0 -> ToRing;",
        ErrorKind::Syntax("expected \"]\""),
        1,
        12,
        "",
        "->",
    );
    assert_error(
        "FromRing[99999999999] -> ToRing;",
        ErrorKind::Syntax("expected a port number under 4294967296"),
        1,
        10,
        "",
        "99999999999",
    );
    assert_error(
        "[0]FromRing -> ToRing;",
        ErrorKind::Syntax("an input port needs a connection before it"),
        1,
        2,
        "",
        "0",
    );
    assert_error(
        "FromRing -> ToRing[0];",
        ErrorKind::Syntax("an output port needs a connection after it"),
        1,
        20,
        "",
        "0",
    );
}

#[test]
fn unsupported_click_statements() {
    assert_error(
        "elementclass Foo { input -> output };",
        ErrorKind::Unsupported,
        1,
        1,
        "",
        "elementclass",
    );
    assert_error(
        "require(package \"x\");",
        ErrorKind::Unsupported,
        1,
        1,
        "",
        "require",
    );
}

// ---- names and classes ----

#[test]
fn unknown_class_names_the_element_and_the_class() {
    let text = "from :: FromRing;\nc :: Clasifier(12/0800);\nfrom -> c;";
    assert_error(text, ErrorKind::UnknownClass, 2, 6, "c", "Clasifier");
    let e = error(text);
    assert_eq!(
        e.to_string(),
        "unknown element class \"Clasifier\" (element \"c\") at line 2, column 6"
    );
    assert_eq!(
        e.in_file("tenants/nat.click").to_string(),
        "unknown element class \"Clasifier\" (element \"c\") at tenants/nat.click:2:6"
    );
    // An undeclared name in a connection is an unknown class too (as in Click).
    assert_error(
        "FromRing -> sink;",
        ErrorKind::UnknownClass,
        1,
        13,
        "",
        "sink",
    );
}

#[test]
fn names_are_unique_not_classes_and_short() {
    assert_error(
        "a :: FromRing;\na :: ToRing;",
        ErrorKind::DuplicateName,
        2,
        1,
        "a",
        "a",
    );
    assert_error(
        "Counter :: Counter;",
        ErrorKind::NameIsClass,
        1,
        1,
        "",
        "Counter",
    );
    let long = "a_very_long_element_name_over_32_bytes";
    assert_error(
        &format!("{long} :: FromRing;"),
        ErrorKind::NameTooLong,
        1,
        1,
        "",
        long,
    );
    assert_error(
        "a :: FromRing; a(1) -> ToRing;",
        ErrorKind::ArgumentsToDeclared,
        1,
        16,
        "a",
        "a",
    );
}

// ---- arguments ----

#[test]
fn bad_arguments_point_into_the_argument_text() {
    assert_error(
        "FromRing -> c :: Classifier(12/0800,\n    12/08x6) -> ToRing;",
        ErrorKind::BadArgument(
            "a Classifier clause is [!]OFFSET/HEXVALUE[%HEXMASK] (e.g. 12/0800), or a pattern is -",
        ),
        2,
        5,
        "c",
        "12/08x6",
    );
    assert_error(
        "FromRing -> f :: IPFilter(allow src 10.0.0.0/8 && tcp dst port 80a) -> ToRing;",
        ErrorKind::BadArgument("expected a port number or range LOW-HIGH (0 to 65535)"),
        1,
        64,
        "f",
        "80a",
    );
    assert_error(
        "FromRing -> Strip(x) -> ToRing;",
        ErrorKind::BadArgument("expected one byte count from 0 to 1514"),
        1,
        19,
        "Strip@2",
        "x",
    );
    assert_error(
        "FromRing -> Strip -> ToRing;",
        ErrorKind::BadArgument("expected one byte count from 0 to 1514"),
        1,
        18,
        "Strip@2",
        "",
    );
    assert_error(
        "FromRing -> Counter(5) -> ToRing;",
        ErrorKind::BadArgument("this element takes no arguments"),
        1,
        21,
        "Counter@2",
        "5",
    );
    assert_error(
        "FromRing -> Queue(0) -> ToRing;",
        ErrorKind::BadArgument("expected a capacity from 1 to 1024 packets"),
        1,
        19,
        "Queue@2",
        "0",
    );
    assert_error(
        "FromRing -> CheckIPHeader(BADSRC 1.2.3.4) -> ToRing;",
        ErrorKind::BadArgument(
            "CheckIPHeader takes [OFFSET] and the keywords OFFSET n, CHECKSUM true|false",
        ),
        1,
        27,
        "CheckIPHeader@2",
        "BADSRC 1.2.3.4",
    );
    assert_error(
        "FromRing -> rw :: IPRewriter(pattern 1.2.3.4 0 - - 0 0) -> ToRing;",
        ErrorKind::BadArgument("a port is 1 to 65535"),
        1,
        46,
        "rw",
        "0",
    );
}

#[test]
fn an_unknown_mapper_is_named() {
    assert_error(
        "FromRing -> rw :: IPRewriter(roundrobin) -> ToRing;",
        ErrorKind::UnknownMapper,
        1,
        30,
        "rw",
        "roundrobin",
    );
    // A mapper must be declared before the rewriter that names it.
    assert_error(
        "f :: FromRing; rw :: IPRewriter(lb); lb :: RoundRobinIPMapper(- - 10.0.0.1 80 0 0); f -> rw -> ToRing;",
        ErrorKind::UnknownMapper,
        1,
        33,
        "rw",
        "lb",
    );
    // And the name must be a mapper.
    assert_error(
        "f :: FromRing; rw :: IPRewriter(f); f -> rw -> ToRing;",
        ErrorKind::UnknownMapper,
        1,
        33,
        "rw",
        "f",
    );
}

// ---- ports and connections ----

#[test]
fn ports_the_element_does_not_have() {
    assert_error(
        "FromRing -> c :: Classifier(12/0800, -);\nc[2] -> ToRing; c[1] -> Discard;",
        ErrorKind::NoSuchOutput {
            port: 2,
            outputs: 2,
        },
        2,
        3,
        "c",
        "2",
    );
    assert_error(
        "f :: FromRing; t :: ToRing; f -> [1]t;",
        ErrorKind::NoSuchInput { port: 1, inputs: 1 },
        1,
        35,
        "t",
        "1",
    );
    // A sink has no output 0: the error is at the sink's name.
    assert_error(
        "FromRing -> d :: Discard -> ToRing;",
        ErrorKind::NoSuchOutput {
            port: 0,
            outputs: 0,
        },
        1,
        13,
        "d",
        "d",
    );
    assert_error(
        "ToRing -> FromRing;",
        ErrorKind::NoSuchOutput {
            port: 0,
            outputs: 0,
        },
        1,
        1,
        "ToRing@1",
        "ToRing",
    );
}

#[test]
fn an_output_connected_twice() {
    assert_error(
        "f :: FromRing; f -> ToRing;\nf -> Discard;",
        ErrorKind::OutputConnectedTwice { port: 0 },
        2,
        3,
        "f",
        "->",
    );
}

#[test]
fn unconnected_outputs_and_inputs() {
    assert_error(
        "f :: FromRing;\nf -> c :: Classifier(12/0800, -) -> ToRing;",
        ErrorKind::OutputUnconnected { port: 1 },
        2,
        6,
        "c",
        "",
    );
    assert_error(
        "f :: FromRing;",
        ErrorKind::OutputUnconnected { port: 0 },
        1,
        1,
        "f",
        "",
    );
    assert_error(
        "FromRing -> ToRing; extra :: Counter -> Discard;",
        ErrorKind::InputUnconnected { port: 0 },
        1,
        21,
        "extra",
        "",
    );
    // Every IPRewriter input spec is an input that must be fed.
    assert_error(
        "FromRing -> rw :: IPRewriter(pass 0, drop) -> ToRing;",
        ErrorKind::InputUnconnected { port: 1 },
        1,
        13,
        "rw",
        "",
    );
    // An IPFilter output no rule names needs no connection...
    check("FromRing -> IPFilter(allow tcp, 2 udp) -> ToRing;").unwrap_err();
    check("FromRing -> f :: IPFilter(allow tcp, 2 udp) -> ToRing; f[2] -> Discard;").unwrap();
    // ...but one a rule names does.
    assert_error(
        "FromRing -> f :: IPFilter(allow tcp, 2 udp) -> ToRing;",
        ErrorKind::OutputUnconnected { port: 2 },
        1,
        13,
        "f",
        "",
    );
    // Optional outputs (CheckIPHeader's and DecIPTTL's output 1) may stay unconnected.
    check("FromRing -> CheckIPHeader(14) -> DecIPTTL -> ToRing;").unwrap();
}

#[test]
fn sources() {
    assert_error("", ErrorKind::NoSource, 1, 1, "", "");
    assert_error("// nothing\n", ErrorKind::NoSource, 1, 1, "", "");
    // The source is looked for before the connections.
    assert_error("Counter -> Discard;", ErrorKind::NoSource, 1, 1, "", "");
    assert_error(
        "FromRing -> ToRing;\nFromRing -> Discard;",
        ErrorKind::SecondSource,
        2,
        1,
        "FromRing@3",
        "",
    );
}

#[test]
fn push_cycles_are_refused_but_a_queue_breaks_one() {
    assert_error(
        "f :: FromRing; a :: Counter; b :: Counter;\nf -> a -> b -> c :: Classifier(12/0800, -);\nc[0] -> ToRing; c[1] -> a;",
        ErrorKind::Cycle,
        3,
        22,
        "c",
        "a",
    );
    let e = error("f :: FromRing; a :: Counter; b :: Counter;\nf -> a -> b -> c :: Classifier(12/0800, -);\nc[0] -> ToRing; c[1] -> a;");
    assert_eq!(
        e.to_string(),
        "connection to \"a\" closes a push cycle (put a Queue in the loop) (element \"c\") at line 3, column 22"
    );
    check(QUEUE_LOOP).unwrap();
}

#[test]
fn capacities() {
    // 32 elements fit; the 33rd is refused where it is declared.
    let mut text = String::from("FromRing");
    for _ in 0..30 {
        text.push_str(" -> Counter");
    }
    text.push_str(" -> ToRing;");
    assert_eq!(check(&text).unwrap().elements, 32);
    let text = text.replace("-> ToRing", "-> Counter -> ToRing");
    let column = text.rfind("ToRing").unwrap() as u32 + 1;
    assert_error(
        &text,
        ErrorKind::TooManyElements,
        1,
        column,
        "ToRing@33",
        "",
    );
    // Queue slots: 16 in a default graph.
    assert_error(
        "FromRing -> Queue(10) -> Queue(7) -> ToRing;",
        ErrorKind::QueueSlots {
            wanted: 17,
            available: 16,
        },
        1,
        32,
        "Queue@3",
        "7",
    );
    let mut big: Graph<32> = Graph::new();
    big.configure("FromRing -> Queue(10) -> Queue(7) -> ToRing;")
        .unwrap();
    // A graph-wide table.
    let mut text = String::from("f :: FromRing; t :: ToRing; f -> ");
    for i in 0..3 {
        text.push_str(&format!(
            "c{i} :: Classifier(-, -, -, -, -, -, -, -, -, -, -, -) -> "
        ));
    }
    text.push_str("t;");
    let e = error(&text);
    assert_eq!(
        e.kind,
        ErrorKind::TableFull("more than 32 Classifier patterns in the graph")
    );
    assert_eq!(e.element.as_str(), "c2");
}

#[test]
fn every_error_renders_with_its_place() {
    for text in [
        "",
        "x",
        "FromRing -> ToRing; FromRing",
        "a :: FromRing; a -> a;",
        "FromRing -> Queue(99) -> ToRing;",
    ] {
        let e = error(text);
        let s = e.to_string();
        assert!(
            s.contains(&format!("at line {}, column {}", e.line, e.column)),
            "{s}"
        );
    }
}

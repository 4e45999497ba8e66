//! Connection commands through the real binary: PING, ECHO, SELECT, QUIT,
//! AUTH, HELLO (RESP2 and RESP3), RESET, CLIENT and its subcommands, TXKEY and
//! RTKEY. Replies are compared byte for byte; `RINGKV_TEST_TARGET=redis` runs
//! the same expectations against redis-server 7.0 (ringkv-only commands and
//! Redis 7.2 additions are skipped there).

mod common;

use common::{for_each_threads, target_is_redis, RawConn, TestServer};

fn s(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The connection's id, from CLIENT ID.
fn client_id(c: &mut RawConn) -> i64 {
    let r = s(c.cmd(&["CLIENT", "ID"]));
    r.trim_start_matches(':')
        .trim_end()
        .parse()
        .expect("client id")
}

#[test]
fn ping_echo_select_quit() {
    let server = TestServer::start(2);
    let mut c = server.raw();
    assert_eq!(s(c.cmd(&["PING"])), "+PONG\r\n");
    assert_eq!(s(c.cmd(&["ping", "hello world"])), "$11\r\nhello world\r\n");
    assert_eq!(
        s(c.cmd(&["PING", "a", "b"])),
        "-ERR wrong number of arguments for 'ping' command\r\n"
    );
    assert_eq!(s(c.cmd(&["ECHO", ""])), "$0\r\n\r\n");
    assert_eq!(s(c.cmd(&["ECHO", "a\r\nb"])), "$4\r\na\r\nb\r\n");
    assert_eq!(
        s(c.cmd(&["ECHO"])),
        "-ERR wrong number of arguments for 'echo' command\r\n"
    );
    assert_eq!(s(c.cmd(&["SELECT", "15"])), "+OK\r\n");
    assert_eq!(
        s(c.cmd(&["SELECT", "16"])),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        s(c.cmd(&["SELECT", "-1"])),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        s(c.cmd(&["SELECT", "x"])),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        s(c.cmd(&["SELECT", "99999999999"])),
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    );
    // SELECT changes where keys go.
    assert_eq!(s(c.cmd(&["SET", "k", "in15"])), "+OK\r\n");
    assert_eq!(s(c.cmd(&["SELECT", "0"])), "+OK\r\n");
    assert_eq!(s(c.cmd(&["GET", "k"])), "$-1\r\n");
    assert_eq!(s(c.cmd(&["SELECT", "15"])), "+OK\r\n");
    assert_eq!(s(c.cmd(&["GET", "k"])), "$4\r\nin15\r\n");
    assert_eq!(s(c.cmd(&["QUIT"])), "+OK\r\n");
    c.expect_closed();
}

#[test]
fn inline_ping_and_quit() {
    let server = TestServer::start(1);
    let mut c = server.raw();
    c.send(b"PING\r\nECHO hi\r\nQUIT\r\n");
    assert_eq!(s(c.reply()), "+PONG\r\n");
    assert_eq!(s(c.reply()), "$2\r\nhi\r\n");
    assert_eq!(s(c.reply()), "+OK\r\n");
    c.expect_closed();
}

/// Commands pipelined after QUIT in the same read never run (Redis closes
/// first), nor is a protocol error behind it answered; on two shards the
/// keys land on both.
#[test]
fn nothing_after_quit_runs() {
    for_each_threads(&[1, 2], |server| {
        let mut c = server.raw();
        let mut req = b"SET before 1\r\nQUIT\r\n".to_vec();
        for k in ["x", "y", "z", "w"] {
            req.extend_from_slice(format!("SET {k} 1\r\n").as_bytes());
        }
        req.extend_from_slice(b"MSET x 1 y 2 z 3\r\nFLUSHALL\r\n*1\r\n$x\r\n");
        c.send(&req);
        assert_eq!(s(c.reply()), "+OK\r\n");
        assert_eq!(s(c.reply()), "+OK\r\n");
        c.expect_closed();
        let mut c = server.raw();
        assert_eq!(s(c.cmd(&["GET", "before"])), "$1\r\n1\r\n");
        for k in ["x", "y", "z", "w"] {
            assert_eq!(s(c.cmd(&["GET", k])), "$-1\r\n", "{k}");
        }
    });
}

fn hello_map(id: i64, proto: u8) -> String {
    let head = if proto == 3 { "%7" } else { "*14" };
    format!(
        "{head}\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:{proto}\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    )
}

#[test]
fn hello_resp2_and_resp3() {
    for_each_threads(&[1, 3], |server| {
        let mut c = server.raw();
        let id = client_id(&mut c);
        assert_eq!(s(c.cmd(&["HELLO"])), hello_map(id, 2));
        assert_eq!(s(c.cmd(&["HELLO", "3"])), hello_map(id, 3));
        // RESP3 from now on: nulls and maps change type.
        assert_eq!(s(c.cmd(&["GET", "missing"])), "_\r\n");
        assert_eq!(s(c.cmd(&["CLIENT", "GETNAME"])), "_\r\n");
        assert_eq!(
            s(c.cmd(&["CONFIG", "GET", "appendonly"])),
            "%1\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
        );
        assert_eq!(
            s(c.cmd(&["HELLO", "4"])),
            "-NOPROTO unsupported protocol version\r\n"
        );
        assert_eq!(
            s(c.cmd(&["HELLO", "two"])),
            "-ERR Protocol version is not an integer or out of range\r\n"
        );
        assert_eq!(
            s(c.cmd(&["HELLO", "3", "AUTH", "default"])),
            "-ERR Syntax error in HELLO option 'AUTH'\r\n"
        );
        assert_eq!(
            s(c.cmd(&["HELLO", "3", "foo"])),
            "-ERR Syntax error in HELLO option 'foo'\r\n"
        );
        assert_eq!(
            s(c.cmd(&["HELLO", "2", "AUTH", "bob", "secret"])),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        );
        assert_eq!(
            s(c.cmd(&["HELLO", "2", "SETNAME", "a b"])),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        );
        // Failed HELLOs leave the protocol alone.
        assert_eq!(s(c.cmd(&["GET", "missing"])), "_\r\n");
        assert_eq!(
            s(c.cmd(&["HELLO", "2", "AUTH", "default", "anything", "SETNAME", "app"])),
            hello_map(id, 2)
        );
        assert_eq!(s(c.cmd(&["GET", "missing"])), "$-1\r\n");
        assert_eq!(s(c.cmd(&["CLIENT", "GETNAME"])), "$3\r\napp\r\n");
    });
}

#[test]
fn auth_without_password() {
    let server = TestServer::start(1);
    let mut c = server.raw();
    assert_eq!(
        s(c.cmd(&["AUTH", "pw"])),
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
    assert_eq!(s(c.cmd(&["AUTH", "default", "pw"])), "+OK\r\n");
    assert_eq!(
        s(c.cmd(&["AUTH", "bob", "pw"])),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(s(c.cmd(&["AUTH", "a", "b", "c"])), "-ERR syntax error\r\n");
}

#[test]
fn reset_restores_defaults() {
    let server = TestServer::start(2);
    let mut c = server.raw();
    c.cmd(&["HELLO", "3", "SETNAME", "app"]);
    assert_eq!(s(c.cmd(&["SELECT", "3"])), "+OK\r\n");
    assert_eq!(s(c.cmd(&["CLIENT", "NO-EVICT", "on"])), "+OK\r\n");
    assert_eq!(s(c.cmd(&["RESET"])), "+RESET\r\n");
    assert_eq!(s(c.cmd(&["CLIENT", "GETNAME"])), "$-1\r\n");
    let info = s(c.cmd(&["CLIENT", "INFO"]));
    assert!(
        info.contains(" db=0 ") && info.contains(" resp=2"),
        "{info}"
    );
    // Redis 7.0 keeps no-evict across RESET (7.2 clears it).
    assert!(info.contains(" flags=e "), "{info}");
    assert_eq!(
        s(c.cmd(&["RESET", "x"])),
        "-ERR wrong number of arguments for 'reset' command\r\n"
    );
}

#[test]
fn client_name_id_info() {
    let server = TestServer::start(2);
    let mut c = server.raw();
    let id = client_id(&mut c);
    assert!(id > 0);
    assert_eq!(s(c.cmd(&["CLIENT", "GETNAME"])), "$-1\r\n");
    assert_eq!(s(c.cmd(&["CLIENT", "SETNAME", "worker-1"])), "+OK\r\n");
    assert_eq!(s(c.cmd(&["client", "getname"])), "$8\r\nworker-1\r\n");
    for bad in ["a b", "a\nb", "é"] {
        assert_eq!(
            s(c.cmd(&["CLIENT", "SETNAME", bad])),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        );
    }
    assert_eq!(s(c.cmd(&["CLIENT", "GETNAME"])), "$8\r\nworker-1\r\n");
    assert_eq!(s(c.cmd(&["CLIENT", "SETNAME", ""])), "+OK\r\n");
    assert_eq!(s(c.cmd(&["CLIENT", "GETNAME"])), "$-1\r\n");

    let info = s(c.cmd(&["CLIENT", "INFO"]));
    let body = info.split_once("\r\n").unwrap().1;
    assert!(
        info.starts_with(&format!("${}\r\n", body.len() - 2)),
        "{info}"
    );
    assert!(
        body.starts_with(&format!("id={id} addr=127.0.0.1:")),
        "{info}"
    );
    assert!(body.ends_with("\n\r\n"));
    for field in [
        " laddr=",
        " fd=",
        " name= ",
        " age=",
        " idle=",
        " flags=N ",
        " db=0 ",
        " cmd=client|info ",
        " user=default ",
        " resp=2",
    ] {
        assert!(body.contains(field), "missing {field:?} in {body}");
    }
    c.cmd(&["HELLO", "3"]);
    let info = s(c.cmd(&["CLIENT", "INFO"]));
    assert!(
        info.starts_with('=') && info.contains("\r\ntxt:id="),
        "{info}"
    );
    assert!(info.contains(" resp=3"));
}

#[test]
fn client_errors() {
    let server = TestServer::start(1);
    let mut c = server.raw();
    let cases: &[(&[&str], &str)] = &[
        (
            &["CLIENT"],
            "-ERR wrong number of arguments for 'client' command\r\n",
        ),
        (
            &["CLIENT", "foo"],
            "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n",
        ),
        (
            &["client", "Foo", "bar"],
            "-ERR unknown subcommand 'Foo'. Try CLIENT HELP.\r\n",
        ),
        (
            &["CLIENT", "SETNAME"],
            "-ERR wrong number of arguments for 'client|setname' command\r\n",
        ),
        (
            &["CLIENT", "SETNAME", "a", "b"],
            "-ERR wrong number of arguments for 'client|setname' command\r\n",
        ),
        (
            &["CLIENT", "GETNAME", "x"],
            "-ERR wrong number of arguments for 'client|getname' command\r\n",
        ),
        (
            &["CLIENT", "ID", "x"],
            "-ERR wrong number of arguments for 'client|id' command\r\n",
        ),
        (
            &["CLIENT", "INFO", "x"],
            "-ERR wrong number of arguments for 'client|info' command\r\n",
        ),
        (
            &["CLIENT", "NO-EVICT"],
            "-ERR wrong number of arguments for 'client|no-evict' command\r\n",
        ),
        (&["CLIENT", "NO-EVICT", "maybe"], "-ERR syntax error\r\n"),
        (&["CLIENT", "NO-EVICT", "ON"], "+OK\r\n"),
        (&["CLIENT", "no-evict", "off"], "+OK\r\n"),
        (
            &["CLIENT", "LIST", "TYPE", "foo"],
            "-ERR Unknown client type 'foo'\r\n",
        ),
        (&["CLIENT", "LIST", "TYPE"], "-ERR syntax error\r\n"),
        (&["CLIENT", "LIST", "foo"], "-ERR syntax error\r\n"),
        (&["CLIENT", "LIST", "ID"], "-ERR syntax error\r\n"),
        (
            &["CLIENT", "LIST", "ID", "1", "x"],
            "-ERR Invalid client ID\r\n",
        ),
        (&["CLIENT", "LIST", "ID", "0", "-1"], "$0\r\n\r\n"),
        (&["CLIENT", "LIST", "TYPE", "pubsub"], "$0\r\n\r\n"),
        (&["CLIENT", "LIST", "TYPE", "master"], "$0\r\n\r\n"),
        (&["CLIENT", "LIST", "TYPE", "replica"], "$0\r\n\r\n"),
        (&["CLIENT", "LIST", "TYPE", "slave"], "$0\r\n\r\n"),
    ];
    for (cmd, want) in cases {
        assert_eq!(s(c.cmd(cmd)), *want, "{cmd:?}");
    }
    let help = s(c.cmd(&["CLIENT", "HELP"]));
    assert!(help.starts_with("*"), "{help}");
    assert!(
        help.contains("\r\n+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n")
    );
    assert!(help.contains(
        "\r\n+SETNAME <name>\r\n+    Assign the name <name> to the current connection.\r\n"
    ));
    assert!(help.ends_with("\r\n+HELP\r\n+    Prints this help.\r\n"));
}

/// Redis 7.2's CLIENT SETINFO and NO-TOUCH (Redis 7.0 answers "unknown subcommand").
#[test]
fn client_setinfo_and_no_touch() {
    if target_is_redis() {
        return;
    }
    let server = TestServer::start(1);
    let mut c = server.raw();
    assert_eq!(
        s(c.cmd(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"])),
        "+OK\r\n"
    );
    assert_eq!(
        s(c.cmd(&["CLIENT", "SETINFO", "lib-ver", "5.0.1"])),
        "+OK\r\n"
    );
    assert_eq!(
        s(c.cmd(&["CLIENT", "SETINFO", "foo", "x"])),
        "-ERR Unrecognized option 'foo'\r\n"
    );
    assert_eq!(
        s(c.cmd(&["CLIENT", "SETINFO", "lib-name", "a b"])),
        "-ERR lib-name cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        s(c.cmd(&["CLIENT", "SETINFO", "lib-name"])),
        "-ERR wrong number of arguments for 'client|setinfo' command\r\n"
    );
    assert_eq!(s(c.cmd(&["CLIENT", "NO-TOUCH", "on"])), "+OK\r\n");
    assert_eq!(
        s(c.cmd(&["CLIENT", "NO-TOUCH", "x"])),
        "-ERR syntax error\r\n"
    );
    assert_eq!(s(c.cmd(&["CLIENT", "NO-EVICT", "on"])), "+OK\r\n");
    let info = s(c.cmd(&["CLIENT", "INFO"]));
    assert!(info.contains(" flags=eT "), "{info}");
    assert!(
        info.ends_with(" lib-name=redis-py lib-ver=5.0.1\n\r\n"),
        "{info}"
    );
    // RESET keeps the library and no-evict (as 7.0), clears no-touch (as 7.2).
    c.cmd(&["RESET"]);
    let info = s(c.cmd(&["CLIENT", "INFO"]));
    assert!(
        info.contains(" flags=e ") && info.contains(" lib-name=redis-py "),
        "{info}"
    );
}

#[test]
fn client_list_shows_a_clients_multi_state() {
    for_each_threads(&[1, 2], |server| {
        let mut a = server.raw();
        let mut b = server.raw();
        let id = client_id(&mut a);
        let line_of = |b: &mut RawConn| -> String {
            let list = s(b.cmd(&["CLIENT", "LIST", "ID", &id.to_string()]));
            list.split_once("\r\n").unwrap().1.to_string()
        };
        assert_eq!(s(a.cmd(&["MULTI"])), "+OK\r\n");
        assert_eq!(s(a.cmd(&["SET", "a", "1"])), "+QUEUED\r\n");
        assert_eq!(s(a.cmd(&["GET", "a"])), "+QUEUED\r\n");
        let line = line_of(&mut b);
        for field in [" flags=x ", " multi=2 ", " cmd=get "] {
            assert!(line.contains(field), "missing {field:?} in {line}");
        }
        assert_eq!(s(a.cmd(&["EXEC"])), "*2\r\n+OK\r\n$1\r\n1\r\n");
        let line = line_of(&mut b);
        for field in [" flags=N ", " multi=-1 ", " cmd=exec "] {
            assert!(line.contains(field), "missing {field:?} in {line}");
        }
    });
}

#[test]
fn client_list_sees_every_core() {
    for_each_threads(&[1, 4], |server| {
        let mut conns: Vec<RawConn> = (0..6).map(|_| server.raw()).collect();
        let ids: Vec<i64> = conns.iter_mut().map(client_id).collect();
        conns[2].cmd(&["CLIENT", "SETNAME", "third"]);
        let list = s(conns[0].cmd(&["CLIENT", "LIST"]));
        let body = list.split_once("\r\n").unwrap().1;
        assert!(
            list.starts_with(&format!("${}\r\n", body.len() - 2)),
            "{list}"
        );
        for id in &ids {
            assert!(
                body.contains(&format!("id={id} addr=")),
                "id {id} missing from {body}"
            );
        }
        assert!(body.contains(" name=third "));
        assert!(body.contains(" cmd=client|list "), "{body}");
        let typed = s(conns[0].cmd(&["CLIENT", "LIST", "TYPE", "normal"]));
        assert!(ids.iter().all(|id| typed.contains(&format!("id={id} "))));
        // ID filter: in the order asked, unknown ids skipped.
        let (a, b) = (ids[4].to_string(), ids[1].to_string());
        let by_id = s(conns[0].cmd(&["CLIENT", "LIST", "ID", &a, "999999", &b]));
        let lines: Vec<&str> = by_id.split_once("\r\n").unwrap().1.split('\n').collect();
        assert!(lines[0].starts_with(&format!("id={a} ")), "{by_id}");
        assert!(lines[1].starts_with(&format!("id={b} ")), "{by_id}");
        // RESP3: a verbatim string.
        conns[0].cmd(&["HELLO", "3"]);
        assert!(s(conns[0].cmd(&["CLIENT", "LIST"])).starts_with('='));
    });
}

#[test]
fn redis_crate_client_commands() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("rs")
        .query(&mut con)
        .unwrap();
    let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
    assert_eq!(name.as_deref(), Some("rs"));
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
    assert!(list.contains(&format!("id={id} ")));
    let err = redis::cmd("CLIENT")
        .arg("NOPE")
        .query::<String>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("unknown subcommand"), "{err}");
}

#[test]
fn txkey_and_rtkey() {
    if target_is_redis() {
        return;
    }
    for_each_threads(&[1, 3], |server| {
        let mut c = server.raw();
        let mut prev = String::new();
        for _ in 0..200 {
            let r = s(c.cmd(&["TXKEY"]));
            assert!(r.starts_with("$12\r\n") && r.len() == 19, "{r}");
            let key = r[5..17].to_string();
            assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert!(key > prev, "{key} <= {prev}");
            prev = key;
        }
        let r = s(c.cmd(&["rtkey"]));
        assert!(
            r.starts_with("$16\r\n") && r[5..21].bytes().all(|b| b.is_ascii_alphanumeric()),
            "{r}"
        );
        assert_ne!(s(c.cmd(&["RTKEY"])), r);
        assert_eq!(
            s(c.cmd(&["TXKEY", "x"])),
            "-ERR wrong number of arguments for 'txkey' command\r\n"
        );
        // Keys from different connections (likely different cores) never collide.
        let mut other = server.raw();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100 {
            assert!(seen.insert(c.cmd(&["TXKEY"])));
            assert!(seen.insert(other.cmd(&["TXKEY"])));
        }
    });
}

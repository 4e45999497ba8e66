//! Unit tests of the connection commands (exact reply bytes).
use super::*;
use crate::cmd::client::CoreInfo;
use crate::cmd::keygen::TxKeyGen;
use crate::protocol::args::OwnedArgs;
use crate::protocol::ReplyWriter;
use crate::shard::Shard;
use crate::slot::SlotTable;

/// Runs one connection command (CLIENT through [`client`]) and returns its
/// reply bytes.
struct Harness {
    client: ClientState,
    core: CoreInfo,
    shard: Shard,
    txkeys: TxKeyGen,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            client: ClientState::new(5, "127.0.0.1:1000".into(), "127.0.0.1:6379".into(), 8),
            core: CoreInfo::for_tests(),
            shard: Shard::new(0, SlotTable::contiguous(1), 16),
            txkeys: TxKeyGen::default(),
        }
    }

    fn run(&mut self, parts: &[&str]) -> String {
        let args = OwnedArgs::from_parts(parts);
        let args = args.args();
        let spec = crate::cmd::table::lookup(args.get(0)).expect("command");
        let mut out = Vec::new();
        let resp3 = self.client.resp3;
        let mut ctx = ConnCtx {
            client: &mut self.client,
            core: &self.core,
            shard: &mut self.shard,
            txkeys: &self.txkeys,
            now_ms: 1_700_000_000_000,
            reply: ReplyWriter::new(&mut out, resp3),
        };
        let res = if !spec.arity_ok(args.len()) {
            Err(CmdError::WrongArity(spec.name.into()))
        } else {
            match spec.exec {
                Exec::Conn(h) => h(&mut ctx, &args),
                Exec::Global(Global::Client) => client(&mut ctx, &args),
                _ => panic!("not a connection command"),
            }
        };
        if let Err(e) = res {
            ctx.reply.error(&e.to_string());
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[test]
fn ping_echo_select_quit() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["PING"]), "+PONG\r\n");
    assert_eq!(h.run(&["ping", "hi"]), "$2\r\nhi\r\n");
    assert_eq!(
        h.run(&["ping", "a", "b"]),
        "-ERR wrong number of arguments for 'ping' command\r\n"
    );
    assert_eq!(h.run(&["echo", ""]), "$0\r\n\r\n");
    assert_eq!(h.run(&["select", "15"]), "+OK\r\n");
    assert_eq!(h.client.db, 15);
    assert_eq!(
        h.run(&["select", "16"]),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        h.run(&["select", "-1"]),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        h.run(&["select", "1.0"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        h.run(&["select", "99999999999"]),
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n"
    );
    assert_eq!(h.run(&["quit"]), "+OK\r\n");
    assert!(h.client.close_after_reply);
}

#[test]
fn hello_switches_protocol() {
    let mut h = Harness::new();
    let r2 = h.run(&["HELLO"]);
    assert_eq!(
        r2,
        "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:2\r\n$2\r\nid\r\n:5\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
    );
    let r3 = h.run(&["hello", "3"]);
    assert!(r3.starts_with("%7\r\n$6\r\nserver\r\n"), "{r3}");
    assert!(r3.contains("$5\r\nproto\r\n:3\r\n"));
    assert!(h.client.resp3);
    assert_eq!(
        h.run(&["hello", "4"]),
        "-NOPROTO unsupported protocol version\r\n"
    );
    assert_eq!(
        h.run(&["hello", "x"]),
        "-ERR Protocol version is not an integer or out of range\r\n"
    );
    assert_eq!(
        h.run(&["hello", "2", "AUTH", "default"]),
        "-ERR Syntax error in HELLO option 'AUTH'\r\n"
    );
    assert_eq!(
        h.run(&["hello", "2", "foo"]),
        "-ERR Syntax error in HELLO option 'foo'\r\n"
    );
    assert_eq!(
        h.run(&["hello", "2", "auth", "bob", "pw"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert!(h.client.resp3, "a failed HELLO must not switch protocol");
    assert_eq!(
        h.run(&["hello", "3", "setname", "a b"]),
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert!(h
        .run(&["hello", "2", "AUTH", "default", "any", "SETNAME", "app"])
        .starts_with("*14\r\n"));
    assert_eq!(h.client.name, b"app");
    assert!(!h.client.resp3);
}

#[test]
fn auth_and_reset() {
    let mut h = Harness::new();
    assert!(h
        .run(&["auth", "pw"])
        .starts_with("-ERR AUTH <password> called without any password configured"));
    assert_eq!(h.run(&["auth", "default", "pw"]), "+OK\r\n");
    assert_eq!(
        h.run(&["auth", "bob", "pw"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(h.run(&["auth", "a", "b", "c"]), "-ERR syntax error\r\n");
    h.run(&["hello", "3", "setname", "x"]);
    h.run(&["select", "4"]);
    h.run(&["client", "no-evict", "on"]);
    assert_eq!(h.run(&["reset"]), "+RESET\r\n");
    assert!(!h.client.resp3 && h.client.db == 0 && h.client.name.is_empty() && h.client.no_evict);
    assert!(h.client.reset_requested);
}

#[test]
fn client_subcommands() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["client", "id"]), ":5\r\n");
    assert_eq!(h.run(&["client", "getname"]), "$-1\r\n");
    assert_eq!(h.run(&["client", "setname", "app"]), "+OK\r\n");
    assert_eq!(h.run(&["CLIENT", "GETNAME"]), "$3\r\napp\r\n");
    assert_eq!(h.run(&["client", "setname", ""]), "+OK\r\n");
    assert_eq!(h.run(&["client", "getname"]), "$-1\r\n");
    assert_eq!(
        h.run(&["client", "setname", "a\nb"]),
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        h.run(&["client", "setname"]),
        "-ERR wrong number of arguments for 'client|setname' command\r\n"
    );
    assert_eq!(
        h.run(&["client", "id", "x"]),
        "-ERR wrong number of arguments for 'client|id' command\r\n"
    );
    assert_eq!(
        h.run(&["client", "foo"]),
        "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n"
    );
    assert_eq!(
        h.run(&["Client", "foo"]),
        "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n"
    );
    assert_eq!(
        h.run(&["client"]),
        "-ERR wrong number of arguments for 'client' command\r\n"
    );
    assert_eq!(
        h.run(&["client", "no-evict", "maybe"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(h.run(&["client", "no-evict", "ON"]), "+OK\r\n");
    assert_eq!(h.run(&["client", "no-touch", "on"]), "+OK\r\n");
    assert_eq!(
        h.run(&["client", "setinfo", "lib-name", "redis-py"]),
        "+OK\r\n"
    );
    assert_eq!(h.run(&["client", "setinfo", "LIB-VER", "5.0"]), "+OK\r\n");
    assert_eq!(
        h.run(&["client", "setinfo", "foo", "x"]),
        "-ERR Unrecognized option 'foo'\r\n"
    );
    assert_eq!(
        h.run(&["client", "setinfo", "lib-name", "a b"]),
        "-ERR lib-name cannot contain spaces, newlines or special characters.\r\n"
    );
    let info = h.run(&["client", "info"]);
    assert!(info.starts_with("$"), "{info}");
    assert!(
        info.contains(" flags=eT ")
            && info.contains(" cmd=client|info ")
            && info.ends_with("lib-name=redis-py lib-ver=5.0\n\r\n"),
        "{info}"
    );
    h.run(&["hello", "3"]);
    assert!(h.run(&["client", "info"]).starts_with("="));
    assert_eq!(h.run(&["client", "getname"]), "_\r\n");
    let help = h.run(&["client", "help"]);
    assert!(help.starts_with(
        "*25\r\n+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+GETNAME\r\n"
    ));
    assert!(help.ends_with("+HELP\r\n+    Prints this help.\r\n"));
}

#[test]
fn client_list_filters() {
    let a = ClientState::new(3, "a:1".into(), "l:1".into(), 7);
    let b = ClientState::new(9, "b:2".into(), "l:1".into(), 8);
    let all = [a, b];
    let list = |parts: &[&str]| {
        let o = OwnedArgs::from_parts(parts);
        client_list(&all, &o.args()).map_err(|e| e.to_string())
    };
    let text = list(&["client", "list"]).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(text.starts_with("id=3 ") && text.ends_with('\n'));
    assert_eq!(list(&["client", "list", "type", "NORMAL"]).unwrap(), text);
    assert_eq!(list(&["client", "list", "type", "pubsub"]).unwrap(), "");
    assert_eq!(list(&["client", "list", "type", "replica"]).unwrap(), "");
    assert_eq!(
        list(&["client", "list", "type", "foo"]),
        Err("ERR Unknown client type 'foo'".into())
    );
    let by_id = list(&["client", "list", "id", "9", "3", "9", "42", "-1"]).unwrap();
    assert_eq!(
        by_id.lines().map(|l| &l[..4]).collect::<Vec<_>>(),
        ["id=9", "id=3", "id=9"]
    );
    assert_eq!(
        list(&["client", "list", "id", "1", "x"]),
        Err("ERR Invalid client ID".into())
    );
    assert_eq!(
        list(&["client", "list", "id"]),
        Err("ERR syntax error".into())
    );
    assert_eq!(
        list(&["client", "list", "type"]),
        Err("ERR syntax error".into())
    );
    assert_eq!(
        list(&["client", "list", "foo"]),
        Err("ERR syntax error".into())
    );
    assert_eq!(
        list(&["client", "list", "type", "normal", "id", "3"]),
        Err("ERR syntax error".into())
    );
}

#[test]
fn key_generators() {
    let mut h = Harness::new();
    let t1 = h.run(&["txkey"]);
    let t2 = h.run(&["TXKEY"]);
    assert!(t1.starts_with("$12\r\n") && t2.starts_with("$12\r\n"));
    assert!(t2 > t1);
    let r = h.run(&["rtkey"]);
    assert!(r.starts_with("$16\r\n") && r[5..21].bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(
        h.run(&["txkey", "x"]),
        "-ERR wrong number of arguments for 'txkey' command\r\n"
    );
}

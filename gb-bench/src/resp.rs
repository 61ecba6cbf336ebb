//! The few commands of the redis protocol (RESP2) gb-bench sends to a
//! redis-server under each allocator, and their replies: a pipelined
//! client over one TCP connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A reply of the redis protocol (RESP2), as far as gb-bench reads them.
#[derive(Debug, PartialEq)]
pub enum Reply {
    Status(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
}

/// A connection to the server.
pub struct Redis {
    stream: BufReader<TcpStream>,
}

impl Redis {
    pub fn connect(port: u16) -> std::io::Result<Redis> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        Ok(Redis {
            stream: BufReader::new(stream),
        })
    }

    /// Sends commands without waiting for their replies (pipelining).
    pub fn send(&mut self, commands: &[Vec<Vec<u8>>]) -> Result<(), String> {
        let mut buf = Vec::new();
        for args in commands {
            buf.extend(format!("*{}\r\n", args.len()).as_bytes());
            for a in args {
                buf.extend(format!("${}\r\n", a.len()).as_bytes());
                buf.extend(a);
                buf.extend(b"\r\n");
            }
        }
        self.stream
            .get_mut()
            .write_all(&buf)
            .map_err(|e| format!("redis: cannot send: {e}"))
    }

    pub fn reply(&mut self) -> Result<Reply, String> {
        let mut line = String::new();
        let n = self
            .stream
            .read_line(&mut line)
            .map_err(|e| format!("redis: no reply: {e}"))?;
        if n == 0 {
            return Err("redis: the server closed the connection".into());
        }
        let line = line.trim_end_matches("\r\n");
        let (kind, rest) = line.split_at(1.min(line.len()));
        let int = |s: &str| {
            s.parse::<i64>()
                .map_err(|_| format!("redis: bad reply {line:?}"))
        };
        match kind {
            "+" => Ok(Reply::Status(rest.into())),
            "-" => Ok(Reply::Error(rest.into())),
            ":" => Ok(Reply::Integer(int(rest)?)),
            "$" => {
                let len = int(rest)?;
                if len < 0 {
                    return Ok(Reply::Bulk(None));
                }
                let mut data = vec![0; len as usize + 2];
                self.stream
                    .read_exact(&mut data)
                    .map_err(|e| format!("redis: short reply: {e}"))?;
                data.truncate(len as usize);
                Ok(Reply::Bulk(Some(data)))
            }
            _ => Err(format!("redis: unexpected reply {line:?}")),
        }
    }

    /// Sends commands and reads one reply for each.
    pub fn call(&mut self, commands: &[Vec<Vec<u8>>]) -> Result<Vec<Reply>, String> {
        self.send(commands)?;
        commands.iter().map(|_| self.reply()).collect()
    }
}

/// A command's words as the owned arguments `send` takes.
pub fn args(words: &[&[u8]]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.to_vec()).collect()
}

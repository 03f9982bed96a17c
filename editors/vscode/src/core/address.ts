/** `hybridAssist.tcp` parsing ("host:port", "[::1]:port", ":port"). No `vscode` import. */

export interface TcpAddress {
  host: string;
  port: number;
}

export function parseTcpAddress(value: string): TcpAddress {
  const text = value.trim();
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (bracketed) {
    host = bracketed[1];
    portText = bracketed[2];
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0 || text.indexOf(":") !== colon) {
      throw new Error(`hybridAssist.tcp: expected "host:port", got ${JSON.stringify(value)}`);
    }
    host = text.slice(0, colon) || "127.0.0.1";
    portText = text.slice(colon + 1);
  }
  if (!/^\d+$/.test(portText)) {
    throw new Error(`hybridAssist.tcp: bad port in ${JSON.stringify(value)}`);
  }
  const port = Number(portText);
  if (port < 1 || port > 65535) {
    throw new Error(`hybridAssist.tcp: port out of range in ${JSON.stringify(value)}`);
  }
  return { host, port };
}

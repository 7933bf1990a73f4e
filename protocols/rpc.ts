/**
 * JSON-RPC 2.0 as Signpost speaks it (SPEC §9): the shapes both ends of `/rpc` share.
 */

/** The `error` member of a JSON-RPC answer; `data.code` is the stable string code of SPEC §7. */
export interface RpcErrorObject {
  code: number;
  message: string;
  data?: Record<string, unknown>;
}

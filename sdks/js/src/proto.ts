/**
 * `@fila/client/proto`: the generated `fila.v1` messages, grpc-js clients and service
 * definitions (src/gen, made by `npm run gen` from proto/), for what the Client does not wrap.
 */
export * as admin from "./gen/fila/v1/admin.js";
export * as messages from "./gen/fila/v1/messages.js";
export * as service from "./gen/fila/v1/service.js";

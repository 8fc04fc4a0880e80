// Public surface of the gateway (see README.md).
export {
  Gateway,
  DEFAULT_MAX_MESSAGE_BYTES,
  KERNEL_OWNER,
  readKernelDescriptors,
  type GatewayLogger,
  type GatewayOptions,
  type KeepaliveOptions,
  type LocalService,
} from "./gateway";
export { DEFAULT_CREDENTIAL_HEADERS } from "./metadata";
export { DataPlane, DATA_PLANE_BINARY_ENV, type DataPlaneCall, type DataPlaneLogger, type DataPlaneOptions } from "./data-plane";

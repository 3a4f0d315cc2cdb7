export * from "./kernel.js";
export {
  KERNEL_BTF_DEFAULT,
  type KernelBtf,
  kernelBtf,
  SHIPPED_KERNEL_BTF,
  shippedKernelBtf,
} from "./kernel-btf.js";
export * from "./report.js";
export * from "./verify.js";

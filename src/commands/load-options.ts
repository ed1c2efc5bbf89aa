// The options of commands that load a model: --device (all of them), --dtype (the scoring ones).
import { resolveDevice, type Device, type DeviceRequest } from '../model';
import type { NativeDtype } from '../native';

export const deviceOption = {
  type: 'string', choices: ['auto', 'cpu', 'cuda'], default: 'auto',
  describe: 'auto: CUDA when LibTorch sees a GPU, else the CPU',
} as const;

export const dtypeOption = {
  type: 'string', choices: ['fp32', 'bf16', 'int8'], default: 'fp32',
  describe: 'bf16: bf16 weights for inference (half the memory; scores within ~1e-2 of fp32; meant for CUDA); ' +
    'int8: int8 products on the CPU (dynamic quantization: faster, scores within ~1e-2 of fp32)',
} as const;

export function commandDevice(requested: DeviceRequest, dtype?: NativeDtype): Device {
  return resolveDevice(requested, '--device', dtype);
}

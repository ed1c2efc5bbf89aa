// The --device option every command that loads a model shares.
import { resolveDevice, type Device, type DeviceRequest } from '../model';

export const deviceOption = {
  type: 'string', choices: ['auto', 'cpu', 'cuda'], default: 'auto',
  describe: 'auto: CUDA when LibTorch sees a GPU, else the CPU',
} as const;

export function commandDevice(requested: DeviceRequest): Device {
  return resolveDevice(requested, '--device');
}

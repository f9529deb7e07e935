import os from 'node:os';

/** Where and when a run happened. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly nodeVersion: string;
  readonly os: string;
  readonly date: string;
}

/** Reads the machine description for the report header. */
export function machineInfo(date: Date = new Date()): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    nodeVersion: process.version,
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    date: date.toISOString(),
  };
}

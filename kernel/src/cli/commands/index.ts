// Every `ol` verb is a module here exporting `register(program)`. Add yours to the list.
import type { Command } from "commander";
import { register as registerChain } from "./chain";
import { register as registerConfig } from "./config";
import { register as registerDown } from "./down";
import { register as registerEngine } from "./engine";
import { register as registerKeys } from "./keys";
import { register as registerStatus } from "./status";
import { register as registerUp } from "./up";

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerUp, registerDown, registerStatus, registerKeys, registerConfig, registerEngine, registerChain];

// Every `ol` verb is a module here exporting `register(program)`. Add yours to the list.
import type { Command } from "commander";
import { register as registerChain } from "./chain";
import { register as registerEngine } from "./engine";

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerEngine, registerChain];

import { inspect } from "node:util";

/**
 * The base of every error this project throws: it prints as its stack (the message and
 * the frames), never as an inspected object. The Node.js language host prints an
 * unhandled error with `util.inspect(err, { colors: true })`; for an error thrown inside an
 * Output's apply that took 2.5 minutes and grew the program's memory by GBs here (Pulumi
 * 3.248, Node 20: a one-line program that throws in an apply), against 11 s with this.
 */
export class FactoryError extends Error {
    [inspect.custom](): string {
        return this.stack ?? `${this.name}: ${this.message}`;
    }
}

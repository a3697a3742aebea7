// A real sshd on loopback standing in for the builder VM's guest: Debian's
// OpenSSH server on a free port with a throwaway host key, accepting only a
// throwaway client key. Every session runs through a forced command that puts
// the guest's tools first on PATH: `sudo` (runs its arguments), `cloud-init
// status --wait` (done), and `systemd-run`/`systemctl poweroff`, which record the
// poweroff instead of stopping this machine. Commands are logged to
// `commands.log`, so tests see exactly what ran over SSH.
import { existsSync, promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { run, startBackground, type Background } from "../../components/exec";
import { freePort } from "../../components/net";
import { logTail } from "../../scripts/services/kube";

export interface SshGuest {
    host: string;
    port: number;
    user: string;
    /** OpenSSH private key (a secret) and its public key line. */
    privateKey: string;
    publicKey: string;
    dir: string;
    /** The commands sessions ran (each a whole command line or script), oldest first. */
    commands(): Promise<string[]>;
    /** True once the guest was told to power off. */
    poweredOff(): boolean;
    /** Forget a recorded poweroff (the VM was started again). */
    clearPoweroff(): Promise<void>;
    stop(): Promise<void>;
}

const STUBS: Record<string, string> = {
    sudo: '#!/bin/sh\nexec "$@"\n',
    "cloud-init": '#!/bin/sh\n[ "$1" = status ] || { echo "cloud-init stand-in: only status is supported" >&2; exit 1; }\necho "status: done"\n',
    // `systemd-run --on-active=N systemctl poweroff`: the guest would power off N seconds later.
    "systemd-run": '#!/bin/sh\nwhile [ $# -gt 0 ]; do case "$1" in --*) shift ;; *) break ;; esac; done\nexec "$@"\n',
    systemctl: '#!/bin/sh\ncase "$1" in poweroff|halt|reboot) date -u +%FT%TZ > "$GUEST_DIR/$1"; echo "guest: $1 scheduled" ;; *) echo "guest: systemctl $*" ;; esac\n',
};

export async function startSshGuest(): Promise<SshGuest> {
    const sshd = "/usr/sbin/sshd";
    if (!existsSync(sshd)) throw new Error(`${sshd} is missing: run \`npm run setup\` (it installs Debian's openssh-server)`);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "if-guest-"));
    const f = (name: string) => path.join(dir, name);
    const bin = f("bin");
    await fs.mkdir(bin);
    for (const [name, text] of Object.entries(STUBS)) await fs.writeFile(path.join(bin, name), text, { mode: 0o755 });
    await fs.writeFile(
        f("guest-shell"),
        [
            "#!/bin/sh",
            `GUEST_DIR=${dir}; export GUEST_DIR`,
            `PATH=${bin}:/usr/sbin:/usr/bin:/sbin:/bin; export PATH`,
            // One line per command, whatever it holds (a compose's script has many): its base64.
            '{ printf "%s" "$SSH_ORIGINAL_COMMAND" | base64 -w0; echo; } >> "$GUEST_DIR/commands.log"',
            'cd "$GUEST_DIR"',
            'exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"',
            "",
        ].join("\n"),
        { mode: 0o755 },
    );
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "image-factory-test-host", "-f", f("host_key")], { timeoutMs: 30_000 });
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "image-factory-test-client", "-f", f("client_key")], { timeoutMs: 30_000 });
    const publicKey = (await fs.readFile(f("client_key.pub"), "utf8")).trim();
    const privateKey = await fs.readFile(f("client_key"), "utf8");
    await fs.writeFile(f("authorized_keys"), `${publicKey}\n`, { mode: 0o600 });
    // sshd's privilege separation directory (Debian creates it only when the service starts).
    await fs.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
    const port = await freePort();
    await fs.writeFile(
        f("sshd_config"),
        [
            `Port ${port}`,
            "ListenAddress 127.0.0.1",
            `HostKey ${f("host_key")}`,
            `AuthorizedKeysFile ${f("authorized_keys")}`,
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            // The temp folder is not root's home: skip the ownership checks of ~/.ssh.
            "StrictModes no",
            `PidFile ${f("sshd.pid")}`,
            `ForceCommand ${f("guest-shell")}`,
            // sshd runs the forced command through root's login shell; bash sources ~/.bashrc
            // when started by sshd unless SHLVL says it is nested, and this machine's root
            // .bashrc is not the guest's (here it hangs in pyenv-rehash).
            "SetEnv SHLVL=1",
            "AllowTcpForwarding no",
            "X11Forwarding no",
            "LogLevel VERBOSE",
            "",
        ].join("\n"),
    );
    const logFile = f("sshd.log");
    const proc: Background = startBackground(sshd, ["-D", "-e", "-f", f("sshd_config")], { logFile });
    const deadline = Date.now() + 20_000;
    for (;;) {
        const ended = await Promise.race([proc.exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 200))]);
        if (ended) throw new Error(`sshd exited; last lines of ${logFile}:\n${await logTail(logFile)}`);
        if ((await fs.readFile(logFile, "utf8").catch(() => "")).includes(`Server listening on 127.0.0.1 port ${port}`)) break;
        if (Date.now() > deadline) {
            await proc.stop();
            throw new Error(`sshd did not listen on 127.0.0.1:${port} in 20s; last lines of ${logFile}:\n${await logTail(logFile)}`);
        }
    }
    return {
        host: "127.0.0.1",
        port,
        user: "root",
        privateKey,
        publicKey,
        dir,
        async commands() {
            const lines = (await fs.readFile(f("commands.log"), "utf8").catch(() => "")).split("\n").filter(Boolean);
            return lines.map((l) => Buffer.from(l, "base64").toString());
        },
        poweredOff: () => existsSync(f("poweroff")),
        clearPoweroff: () => fs.rm(f("poweroff"), { force: true }),
        async stop() {
            await proc.stop();
            await fs.rm(dir, { recursive: true, force: true });
        },
    };
}

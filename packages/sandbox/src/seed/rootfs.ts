import { join } from 'node:path';
import { type FileSpec, writeTree } from './files.js';
import { hasTool, makeExt4, makeXfs } from './mkfs.js';

export type OsKind = 'al2023' | 'debian12';

const OS_RELEASE: Record<OsKind, string> = {
  al2023:
    'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\nPRETTY_NAME="Amazon Linux 2023"\n',
  debian12:
    'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nID=debian\n',
};

const USER: Record<OsKind, string> = { al2023: 'ec2-user', debian12: 'admin' };

/** A small but real root tree: identity files, a few "binaries", logs and a home directory. */
export function rootFiles(os: OsKind): FileSpec[] {
  const user = USER[os];
  return [
    { path: 'etc/os-release', kind: 'literal', content: OS_RELEASE[os] },
    { path: 'etc/hostname', kind: 'literal', content: 'localhost\n' },
    {
      path: 'etc/fstab',
      kind: 'literal',
      content: `LABEL=root / ${os === 'al2023' ? 'xfs' : 'ext4'} defaults 0 1\n`,
    },
    {
      path: 'etc/passwd',
      kind: 'literal',
      content: `root:x:0:0:root:/root:/bin/bash\n${user}:x:1000:1000::/home/${user}:/bin/bash\n`,
    },
    { path: 'etc/ssh/sshd_config', kind: 'text', style: 'conf', bytes: 3_000 },
    { path: 'usr/bin/bash', kind: 'binary', bytes: 1_200_000 },
    { path: 'usr/bin/coreutils', kind: 'binary', bytes: 2_000_000 },
    { path: 'usr/lib/libc.so.6', kind: 'binary', bytes: 1_900_000 },
    { path: 'boot/vmlinuz', kind: 'binary', bytes: 4_000_000 },
    { path: 'var/log/cloud-init.log', kind: 'text', style: 'log', bytes: 200_000 },
    { path: `home/${user}/.bashrc`, kind: 'literal', content: '# .bashrc\nalias ll="ls -l"\n' },
  ];
}

/** Builds the root file system image of a public image into workDir; undefined when the tools are missing. */
export function buildRootFs(os: OsKind, workDir: string, bytes: number): string | undefined {
  const tree = join(workDir, `${os}-tree`);
  writeTree(tree, `public:${os}`, rootFiles(os));
  const image = join(workDir, `${os}.img`);
  const o = {
    label: 'root',
    uuid: os === 'al2023' ? '5a6e7d1c-0b3f-4b59-9b1e-2f0c8a7d3e11' : 'c0ffee00-d3b1-4a2e-8f00-12b0a3c4d5e6',
  };
  if (os === 'al2023' && hasTool('mkfs.xfs')) makeXfs(image, bytes, tree, o, workDir);
  else if (hasTool('mkfs.ext4')) makeExt4(image, bytes, tree, o);
  else return undefined;
  return image;
}

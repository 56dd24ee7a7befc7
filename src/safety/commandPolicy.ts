/**
 * The command policy: what each program may be asked to run, per subcommand and per argument, as
 * data (data/commands.json plus a project's <state>/commands.json). An argv passes only when the
 * program, its subcommand, every option (wherever it stands: before or after the subcommand,
 * `--opt=v` or `--opt v`, combined short flags) and every operand are allowed. Options are matched
 * exactly, so abbreviations a program would accept (`--pref` for `--prefix`) are refused, and
 * nothing that changes a program's root, configuration, shell, script runner, output file or
 * loaded code is listed. Path arguments must resolve inside the project and outside the server's
 * state folder (whose files a client can influence).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { AppError } from '../core/errors.js';
import { resolveInside } from './paths.js';

const operandKinds = [
  'none',
  'paths',
  'words',
  'targets',
  'script',
  'revs_or_paths',
  'pattern_then_paths',
  'packages',
  'refspecs',
  'any',
] as const;
type OperandKind = (typeof operandKinds)[number];

const commandSpecSchema = z
  .object({
    aliases: z.array(z.string()).optional(),
    gate: z.boolean().optional(),
    options: z.array(z.string()).default([]),
    operands: z.enum(operandKinds).default('none'),
    after_dashdash: z.enum(['none', 'paths']).default('none'),
  })
  .strict();

const programSchema = commandSpecSchema
  .extend({ subcommands: z.record(z.string(), commandSpecSchema).optional() })
  .strict();

const fileSchema = z
  .object({
    version: z.literal(1),
    description: z.string().optional(),
    programs: z.record(z.string().regex(/^[A-Za-z0-9._-]+$/), programSchema),
  })
  .strict();

type CommandSpec = z.infer<typeof commandSpecSchema>;
type ProgramSpec = z.infer<typeof programSchema>;

type ValueKind = { kind: 'none' } | { kind: 'n' | 'v' | 'path' | 'any' } | { kind: 'enum'; values: string[] };

interface OptionSpec {
  name: string;
  value: ValueKind;
}

function parseOption(text: string): OptionSpec {
  const m = /^(-{1,2}[A-Za-z0-9][A-Za-z0-9-]*)(?:=<([^>]+)>)?$/.exec(text);
  if (!m) throw new AppError('CONFIG_INVALID', `Bad option spec "${text}" in the command policy`);
  const v = m[2];
  if (v === undefined) return { name: m[1]!, value: { kind: 'none' } };
  if (v === 'n' || v === 'v' || v === 'path' || v === 'any') return { name: m[1]!, value: { kind: v } };
  return { name: m[1]!, value: { kind: 'enum', values: v.split('|') } };
}

export type PolicyProfile = 'command' | 'gate';

export interface PolicyContext {
  /** Where the program runs (already resolved inside the project). */
  cwd: string;
  profile: PolicyProfile;
}

export type PolicyVerdict = { ok: true } | { ok: false; reason: string; hint: string };

const WORD = /^[A-Za-z0-9_][A-Za-z0-9_.:@+-]*$/;
const TARGET = /^[A-Za-z0-9_][A-Za-z0-9_./-]*$/;
const REV = /^[A-Za-z0-9_][A-Za-z0-9_./~^@{}:-]*$/;
const REFSPEC = /^[+:]?[A-Za-z0-9_][A-Za-z0-9_./~^@{}:-]*$/;
const NUMBER = /^\d{1,7}$/;
const PROGRAM = /^[A-Za-z0-9._-]+$/;

export interface CommandPolicyOptions {
  projectDir: string;
  stateDir: string;
  /** Programs a command gate may run (TASK_ORCHESTRATOR_GATE_COMMANDS). */
  gatePrograms: readonly string[];
  /** Programs run_with_error_capture, scheduled jobs and approved actions may run (TASK_ORCHESTRATOR_COMMANDS). */
  commandPrograms: readonly string[];
}

class Refusal extends Error {
  constructor(
    readonly reason: string,
    readonly hint: string,
  ) {
    super(reason);
  }
}

export class CommandPolicy {
  private readonly programs: Map<string, ProgramSpec>;
  private readonly options = new Map<string, Map<string, OptionSpec>>();

  constructor(
    programs: Record<string, ProgramSpec>,
    private readonly o: CommandPolicyOptions,
  ) {
    this.programs = new Map(Object.entries(programs));
    for (const [name, spec] of this.programs) {
      this.options.set(name, this.compile(spec));
      for (const [sub, s] of Object.entries(spec.subcommands ?? {}))
        this.options.set(`${name} ${sub}`, this.compile(s));
    }
  }

  private compile(spec: CommandSpec): Map<string, OptionSpec> {
    return new Map(spec.options.map((t) => parseOption(t)).map((o) => [o.name, o]));
  }

  /** Loads the shipped policy and the project's own (which adds programs and subcommands). */
  static async load(
    dataDir: string,
    stateDir: string,
    options: CommandPolicyOptions,
  ): Promise<CommandPolicy> {
    const shipped = await readPolicy(path.join(dataDir, 'commands.json'), true);
    const project = await readPolicy(path.join(stateDir, 'commands.json'), false);
    const merged: Record<string, ProgramSpec> = { ...shipped };
    for (const [name, spec] of Object.entries(project)) {
      const base = merged[name];
      merged[name] =
        base?.subcommands && spec.subcommands
          ? { ...base, subcommands: { ...base.subcommands, ...spec.subcommands } }
          : spec;
    }
    return new CommandPolicy(merged, options);
  }

  /** Programs of a profile that the policy also describes. */
  allowedPrograms(profile: PolicyProfile): string[] {
    const list = profile === 'gate' ? this.o.gatePrograms : this.o.commandPrograms;
    return list.filter((p) => this.programs.has(p) && (profile !== 'gate' || this.hasGate(p)));
  }

  private hasGate(program: string): boolean {
    const spec = this.programs.get(program)!;
    return Boolean(spec.gate || Object.values(spec.subcommands ?? {}).some((s) => s.gate));
  }

  /** Checks a whole argv (program first). Never throws for a refusal: it returns the reason. */
  async check(argv: readonly string[], ctx: PolicyContext): Promise<PolicyVerdict> {
    try {
      await this.checkOrThrow(argv, ctx);
      return { ok: true };
    } catch (error) {
      if (error instanceof Refusal) return { ok: false, reason: error.reason, hint: error.hint };
      if (error instanceof AppError)
        return { ok: false, reason: error.message, hint: error.hint ?? 'Use paths inside the project' };
      throw error;
    }
  }

  private async checkOrThrow(argv: readonly string[], ctx: PolicyContext): Promise<void> {
    const [program, ...args] = argv;
    const allowed = this.allowedPrograms(ctx.profile);
    const listHint = `Allowed: ${allowed.join(', ') || 'none'}. The policy is data/commands.json (add to it in <state>/commands.json)`;
    if (!program || !PROGRAM.test(program))
      throw new Refusal(
        `"${program ?? ''}" must be a bare program name`,
        `${listHint}; no paths, no shell syntax`,
      );
    if (!allowed.includes(program)) {
      const which = ctx.profile === 'gate' ? 'TASK_ORCHESTRATOR_GATE_COMMANDS' : 'TASK_ORCHESTRATOR_COMMANDS';
      throw new Refusal(
        `"${program}" is not an allowed ${ctx.profile === 'gate' ? 'gate program' : 'program'}`,
        this.programs.has(program) ? `${listHint}; ${which} lists the programs` : listHint,
      );
    }
    const spec = this.programs.get(program)!;
    let i = 0;
    let label = program;
    let command: CommandSpec = spec;
    let optionKey = program;
    if (spec.subcommands) {
      const first = args[0];
      if (first === undefined || first.startsWith('-'))
        throw new Refusal(
          first === undefined
            ? `${program} needs a subcommand`
            : `${program} ${first}: options before the subcommand are not allowed (they change where or how ${program} runs)`,
          `Allowed: ${this.subcommandList(program, spec, ctx.profile)}`,
        );
      const entry = Object.entries(spec.subcommands).find(
        ([name, s]) => name === first || s.aliases?.includes(first),
      );
      if (!entry || (ctx.profile === 'gate' && !entry[1].gate))
        throw new Refusal(
          `${program} ${first} is not allowed${ctx.profile === 'gate' ? ' as a gate' : ''}`,
          `Allowed: ${this.subcommandList(program, spec, ctx.profile)}`,
        );
      command = entry[1];
      optionKey = `${program} ${entry[0]}`;
      label = optionKey;
      i = 1;
    } else if (ctx.profile === 'gate' && !spec.gate) {
      throw new Refusal(`${program} is not allowed as a gate`, listHint);
    }
    const options = this.options.get(optionKey)!;
    const operands: string[] = [];
    const afterDashDash: string[] = [];
    let patternGiven = false;
    const optionHint = () =>
      `Options ${label} may take: ${[...options.keys()].join(' ') || 'none'} (matched exactly; no abbreviations)`;
    for (; i < args.length; i++) {
      const a = args[i]!;
      if (a === '--') {
        afterDashDash.push(...args.slice(i + 1));
        break;
      }
      if (a.startsWith('-') && a.length > 1 && !NUMBER.test(a.slice(1))) {
        const take = async (
          opt: OptionSpec,
          inline: string | undefined,
          fromNext: boolean,
        ): Promise<void> => {
          if (opt.value.kind === 'none') {
            if (inline !== undefined) throw new Refusal(`${label} ${opt.name} takes no value`, optionHint());
            return;
          }
          let value = inline;
          if (value === undefined && fromNext) {
            value = args[i + 1];
            i++;
          }
          if (value === undefined) throw new Refusal(`${label} ${opt.name} needs a value`, optionHint());
          await this.checkValue(label, opt, value, ctx);
          if (opt.name === '-e') patternGiven = true;
        };
        const eq = a.indexOf('=');
        const name = eq > 0 ? a.slice(0, eq) : a;
        const direct = options.get(name);
        if (direct) {
          await take(direct, eq > 0 ? a.slice(eq + 1) : undefined, eq < 0);
          continue;
        }
        if (!a.startsWith('--') && eq < 0 && a.length > 2) {
          // -n5 (short option with its value attached) or -la (combined flags).
          const short = options.get(a.slice(0, 2));
          if (short && short.value.kind !== 'none') {
            await take(short, a.slice(2), false);
            continue;
          }
          const flags = [...a.slice(1)].map((c) => options.get(`-${c}`));
          if (flags.every((f) => f !== undefined && f.value.kind === 'none')) continue;
        }
        throw new Refusal(`${label}: option ${name} is not allowed`, optionHint());
      }
      operands.push(a);
    }
    await this.checkOperands(label, command.operands, operands, ctx, patternGiven);
    if (afterDashDash.length > 0) {
      if (command.after_dashdash === 'none')
        throw new Refusal(`${label} takes nothing after --`, 'Remove the arguments after --');
      for (const p of afterDashDash) {
        if (p.startsWith('-'))
          throw new Refusal(
            `${label}: options after -- (${p}) are not allowed`,
            'Only project paths may follow --',
          );
        await this.checkPath(p, ctx);
      }
    }
  }

  private subcommandList(program: string, spec: ProgramSpec, profile: PolicyProfile): string {
    return Object.entries(spec.subcommands ?? {})
      .filter(([, s]) => profile !== 'gate' || s.gate)
      .map(([name]) => `${program} ${name}`)
      .join(', ');
  }

  private async checkValue(label: string, opt: OptionSpec, value: string, ctx: PolicyContext): Promise<void> {
    const bad = (why: string) => new Refusal(`${label} ${opt.name}: ${why}`, 'Give a plain value');
    if (/[\0\n\r]/.test(value) || value.length > 500)
      throw bad('the value has control characters or is too long');
    switch (opt.value.kind) {
      case 'n':
        if (!NUMBER.test(value)) throw bad(`"${value}" is not a number`);
        return;
      case 'v':
        if (value.startsWith('-') || /[/\\]/.test(value))
          throw bad(`"${value}" may not start with - or contain a path`);
        return;
      case 'enum':
        if (!opt.value.values.includes(value))
          throw bad(`"${value}" is not one of ${opt.value.values.join(', ')}`);
        return;
      case 'path':
        await this.checkPath(value, ctx);
        return;
      default:
        return;
    }
  }

  private async checkPath(p: string, ctx: PolicyContext): Promise<string> {
    return resolveInside([this.o.projectDir], path.resolve(ctx.cwd, p), {
      exclude: [this.o.stateDir],
      what: 'Path argument',
    });
  }

  private async checkOperands(
    label: string,
    kind: OperandKind,
    operands: string[],
    ctx: PolicyContext,
    patternGiven: boolean,
  ): Promise<void> {
    if (operands.length === 0) {
      if (kind === 'script') throw new Refusal(`${label} needs a script name`, await this.scriptHint(ctx));
      return;
    }
    const refuse = (what: string, hint: string) => new Refusal(`${label}: ${what}`, hint);
    switch (kind) {
      case 'any':
        return;
      case 'none':
        throw refuse(`takes no arguments (got ${operands.join(' ')})`, 'Remove them');
      case 'paths':
        for (const p of operands) await this.checkPath(p, ctx);
        return;
      case 'pattern_then_paths':
        for (const p of patternGiven ? operands : operands.slice(1)) await this.checkPath(p, ctx);
        return;
      case 'words':
        for (const w of operands)
          if (!WORD.test(w))
            throw refuse(`"${w}" is not a plain name`, 'Use names of letters, digits, . _ : @ + -');
        return;
      case 'targets':
        for (const t of operands)
          if (!TARGET.test(t) || t.split('/').includes('..'))
            throw refuse(
              `"${t}" is not a make target${t.includes('=') ? ' (variable assignments such as SHELL= are not allowed)' : ''}`,
              'Name targets of the project Makefile',
            );
        return;
      case 'packages':
        for (const p of operands) {
          if (p !== '.' && p !== './...' && !p.startsWith('./'))
            throw refuse(`"${p}" is not a package inside the project`, 'Use ./... or ./path/to/pkg');
          await this.checkPath(p.replace(/\/\.\.\.$/, '') || '.', ctx);
        }
        return;
      case 'refspecs':
        for (const r of operands)
          if (!REFSPEC.test(r) || r.includes('..'))
            throw refuse(`"${r}" is not a remote or refspec`, 'Use a remote name and branch names');
        return;
      case 'revs_or_paths':
        for (const r of operands) {
          if (r.includes('/') || r.startsWith('.')) {
            await this.checkPath(r, ctx);
            continue;
          }
          if (!REV.test(r))
            throw refuse(`"${r}" is neither a revision nor a project path`, 'Use a commit, branch or path');
        }
        return;
      case 'script': {
        const [script, ...rest] = operands;
        const scripts = await this.scripts(ctx.cwd);
        if (!scripts.includes(script!))
          throw refuse(
            `"${script}" is not a script of ${path.join(ctx.cwd, 'package.json')}`,
            await this.scriptHint(ctx),
          );
        if (rest.length > 0)
          throw refuse(
            `extra arguments (${rest.join(' ')})`,
            'Arguments for the script go after -- (project paths only)',
          );
        return;
      }
    }
  }

  private async scripts(cwd: string): Promise<string[]> {
    try {
      const pkg = JSON.parse(await readFile(path.join(cwd, 'package.json'), 'utf8')) as { scripts?: unknown };
      return pkg.scripts && typeof pkg.scripts === 'object' ? Object.keys(pkg.scripts) : [];
    } catch {
      return [];
    }
  }

  private async scriptHint(ctx: PolicyContext): Promise<string> {
    const scripts = await this.scripts(ctx.cwd);
    return scripts.length
      ? `Scripts here: ${scripts.join(', ')}`
      : 'There is no package.json with scripts here';
  }
}

async function readPolicy(file: string, required: boolean): Promise<Record<string, ProgramSpec>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new AppError('CONFIG_INVALID', `Cannot read the command policy ${file}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new AppError('CONFIG_INVALID', `The command policy ${file} is not JSON`, { cause: error });
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError(
      'CONFIG_INVALID',
      `Invalid command policy ${file}: ${issue?.path.join('.')}: ${issue?.message}`,
      { hint: 'See data/commands.json for the shape' },
    );
  }
  for (const spec of Object.values(parsed.data.programs)) {
    for (const s of [spec, ...Object.values(spec.subcommands ?? {})])
      for (const o of s.options) parseOption(o);
  }
  return parsed.data.programs;
}

/**
 * One valid and one invalid call for every tool. The end-to-end suite calls every tool the server
 * lists and fails when a tool has no entry here, so each new tool must bring its fixtures.
 */
import { labelledJsonl } from '../fakes/labelledPrompts.js';

export interface FixtureHelpers {
  /** Creates a fresh task through tasks_add and returns its id. */
  newTask(fields?: Record<string, unknown>): Promise<string>;
  /** Arguments naming the newest trial (runs an agent first if there is none). */
  lastTrial(): Promise<Record<string, unknown>>;
  /** Writes a file into the server's project folder; returns its relative path. */
  projectFile(name: string, content: string): Promise<string>;
  /** Makes a spawn fail its graders and returns the failure pattern id it left. */
  failurePattern(): Promise<string>;
  /** Publishes a pattern of another project into the hub; returns its hub id. */
  hubPattern(): Promise<string>;
  /** Trains a predictor model from a generated labelled file (once). */
  trainModel(): Promise<void>;
  /** Files a command that needs approval; returns its inbox id. */
  pendingAction(): Promise<string>;
  /** Schedules a harmless hourly command; returns the job id. */
  scheduledJob(): Promise<string>;
  /** Interviews the default OpenAI model (against the fake server). */
  interviewed(): Promise<void>;
  /** The fake LLM answers its next calls with these texts. */
  answerNext(...texts: string[]): void;
  /** Starts a caller-mode run over a root with one subtask; returns the run id. */
  callerRun(): Promise<string>;
  /** Runs a two-case evaluation suite on the fake (once); returns the run id. */
  evalRun(): Promise<string>;
}

export interface ToolFixture {
  valid: (h: FixtureHelpers) => Promise<Record<string, unknown>> | Record<string, unknown>;
  invalid: Record<string, unknown>;
  /** Part of the message the invalid call must return. */
  invalidMessage: RegExp;
}

export const toolFixtures: Record<string, ToolFixture> = {
  request_tool: {
    valid: () => ({ category: 'agent' }),
    invalid: { category: 'no-such-category' },
    invalidMessage: /Valid categories/,
  },
  healing_status: { valid: () => ({}), invalid: { verbose: true }, invalidMessage: /verbose/ },
  spawn_parallel_agents: {
    valid: () => ({ prompts: ['one', 'two'], concurrency: 2 }),
    invalid: { prompts: [] },
    invalidMessage: /prompts/,
  },
  spawn_archetype_agent: {
    valid: () => ({ archetype: 'documenter', prompt: 'Describe the CLI.' }),
    invalid: { archetype: 'wizard', prompt: 'x' },
    invalidMessage: /No archetype "wizard"/,
  },
  archetype_info: { valid: () => ({}), invalid: { name: 'nobody' }, invalidMessage: /No archetype/ },
  audit_append: {
    valid: () => ({ entry_type: 'decision', title: 'e2e', content: 'Chose stdio for the e2e suite' }),
    invalid: { entry_type: 'decision' },
    invalidMessage: /content/,
  },
  audit_status: {
    valid: () => ({ query: 'stdio', limit: 5 }),
    invalid: { limit: 0 },
    invalidMessage: /limit/,
  },
  spawn_agent: {
    valid: () => ({ prompt: 'Say hello in five words.' }),
    invalid: { prompt: '' },
    invalidMessage: /prompt/,
  },
  evaluate_output: {
    valid: () => ({ output: '{"a": 1}', graders: [{ name: 'non_empty' }, { name: 'json_valid' }] }),
    invalid: { output: 'x', graders: [{ name: 'vibes' }] },
    invalidMessage: /name/,
  },
  trials_list: { valid: () => ({ pass: true, limit: 5 }), invalid: { pass: 'yes' }, invalidMessage: /pass/ },
  judge_calibrate: {
    valid: () => ({ file: 'example', limit: 2, concurrency: 1 }),
    invalid: { threshold: 2 },
    invalidMessage: /threshold/,
  },
  trial_get: {
    valid: (h) => h.lastTrial(),
    invalid: { trial_id: 'tri_nothing' },
    invalidMessage: /not found.*trials_list/,
  },
  export_training_data: {
    valid: () => ({ format: 'full' }),
    invalid: { format: 'csv' },
    invalidMessage: /format/,
  },
  immune_check: {
    valid: () => ({ prompt: 'Generate the user profile JSON' }),
    invalid: { prompt: '' },
    invalidMessage: /prompt/,
  },
  immune_status: { valid: () => ({}), invalid: { all: true }, invalidMessage: /all/ },
  immune_failures: { valid: () => ({ limit: 5 }), invalid: { limit: -1 }, invalidMessage: /limit/ },
  immune_feedback: {
    valid: async (h) => ({ pattern_id: await h.failurePattern(), verdict: 'confirmed' }),
    invalid: { pattern_id: 'pat_x', verdict: 'maybe' },
    invalidMessage: /verdict/,
  },
  immune_dashboard: {
    valid: () => ({ format: 'json', days: 7 }),
    invalid: { format: 'pdf' },
    invalidMessage: /format/,
  },
  immune_sync: {
    valid: () => ({ direction: 'both' }),
    invalid: { direction: 'sideways' },
    invalidMessage: /direction/,
  },
  federation_status: { valid: () => ({}), invalid: { verbose: true }, invalidMessage: /verbose/ },
  federation_subscribe: {
    valid: () => ({ project: 'fixture-peer' }),
    invalid: { project: '' },
    invalidMessage: /project/,
  },
  federation_search: {
    valid: () => ({ query: 'user profile json' }),
    invalid: { query: '' },
    invalidMessage: /query/,
  },
  federation_import: {
    valid: async (h) => ({ hub_ids: [await h.hubPattern()] }),
    invalid: { hub_ids: [] },
    invalidMessage: /hub_ids/,
  },
  federation_share: {
    valid: async (h) => ({ pattern_ids: [await h.failurePattern()], shared: false }),
    invalid: { pattern_ids: ['pat_x'] },
    invalidMessage: /shared/,
  },
  federation_decay: { valid: () => ({}), invalid: { apply: 'yes' }, invalidMessage: /apply/ },
  sync_status: { valid: () => ({}), invalid: { verbose: true }, invalidMessage: /verbose/ },
  sync_trigger: {
    valid: () => ({ direction: 'push' }),
    invalid: { direction: 'up' },
    invalidMessage: /direction/,
  },
  sync_alerts: { valid: () => ({}), invalid: { verbose: true }, invalidMessage: /verbose/ },
  predict_risk: {
    valid: async (h) => {
      await h.trainModel();
      return { prompt: 'please wipe the orders table in production right now', tool: 'db_query' };
    },
    invalid: { prompt: 'x', tool: 7 },
    invalidMessage: /tool/,
  },
  train_predictor: {
    valid: async (h) => ({
      source: 'file',
      path: await h.projectFile('labels.jsonl', labelledJsonl(300, 2)),
    }),
    invalid: { source: 'database' },
    invalidMessage: /source/,
  },
  alert_list: {
    valid: () => ({ severity: 'info', limit: 5 }),
    invalid: { severity: 'loud' },
    invalidMessage: /severity/,
  },
  alert_clear: { valid: () => ({ all: true }), invalid: { id: '' }, invalidMessage: /id/ },
  inbox_status: {
    valid: () => ({ status: 'pending' }),
    invalid: { status: 'lost' },
    invalidMessage: /status/,
  },
  approve_action: {
    valid: async (h) => ({ action_id: await h.pendingAction(), approve: false, reason: 'fixture: not now' }),
    invalid: { action_id: 'act_x' },
    invalidMessage: /approve/,
  },
  run_with_error_capture: {
    valid: () => ({ command: 'npm', args: ['--version'] }),
    invalid: { command: '' },
    invalidMessage: /command/,
  },
  validate_code: {
    valid: () => ({ code: '{"a": 1}', language: 'json' }),
    invalid: { code: 'x', language: 'cobol' },
    invalidMessage: /language/,
  },
  list_workflows: { valid: () => ({}), invalid: { all: true }, invalidMessage: /all/ },
  trigger_workflow: {
    valid: async (h) => ({
      workflow: '@Review',
      prompt: 'Review it',
      files: [await h.projectFile('review-me.ts', 'export const x = 1;\n')],
    }),
    invalid: { workflow: '@Review' },
    invalidMessage: /prompt/,
  },
  schedule_task: {
    valid: () => ({ command: { command: 'npm', args: ['test'] }, every: '1h' }),
    invalid: { command: { command: 'npm' }, every: 'often' },
    invalidMessage: /every "often" is not a duration|duration/,
  },
  list_scheduled_tasks: {
    valid: () => ({ status: 'active' }),
    invalid: { status: 'sleeping' },
    invalidMessage: /status/,
  },
  cancel_scheduled_task: {
    valid: async (h) => ({ id: await h.scheduledJob() }),
    invalid: { id: '' },
    invalidMessage: /id/,
  },
  worker_interview: {
    valid: () => ({ provider: 'openai' }),
    invalid: { provider: 'mistral' },
    invalidMessage: /provider/,
  },
  eval_run: {
    valid: async (h) => ({
      suite: await h.projectFile(
        'fixture-suite.yaml',
        'name: fixture\nproviders: [openai/gpt-4o-mini]\ncases:\n  - id: hello\n    prompt: Say hello\n    assert: [{ type: length, min: 1 }]\n',
      ),
      targets: ['openai/gpt-4o-mini'],
    }),
    invalid: { suite: 'fixture-suite.yaml', concurrency: 0 },
    invalidMessage: /concurrency/,
  },
  eval_status: {
    valid: async (h) => ({ run_id: await h.evalRun() }),
    invalid: { run_id: 'evr_nope' },
    invalidMessage: /evr_nope/,
  },
  eval_compare: {
    valid: async (h) => ({ after: await h.evalRun(), before: await h.evalRun() }),
    invalid: { before: 'x' },
    invalidMessage: /after/,
  },
  eval_cases_from_memory: {
    valid: async (h) => {
      await h.failurePattern();
      return { suite_file: 'evals/fixture-memory.yaml' };
    },
    invalid: { suite_file: '../outside.yaml' },
    invalidMessage: /outside|inside/,
  },
  worker_list: { valid: () => ({}), invalid: { all: true }, invalidMessage: /all/ },
  worker_profile: {
    valid: async (h) => {
      await h.interviewed();
      return { provider: 'openai', model: 'gpt-4o-mini' };
    },
    invalid: { provider: 'openai' },
    invalidMessage: /model/,
  },
  cost_summary: { valid: () => ({}), invalid: { provider: 'mistral' }, invalidMessage: /provider/ },
  cost_set_budget: {
    valid: () => ({ provider: 'openai', daily_usd: 5 }),
    invalid: { provider: 'openai', daily_usd: -1 },
    invalidMessage: /daily_usd/,
  },
  tasks_add: {
    valid: () => ({
      tasks: [
        { ref: 'a', title: 'Parent' },
        { title: 'Child', parent: 'a', depends_on: [{ task: 'a' }] },
      ],
    }),
    invalid: { tasks: [{ ref: 'x', title: 'Loop', depends_on: [{ task: 'x' }] }] },
    invalidMessage: /cycle: t_\w+ → t_\w+/,
  },
  tasks_list: {
    valid: () => ({ ready: true, limit: 5 }),
    invalid: { status: ['finished'] },
    invalidMessage: /status/,
  },
  tasks_get: {
    valid: async (h) => ({ task_id: await h.newTask() }),
    invalid: { task_id: 't_nothere00' },
    invalidMessage: /not found.*tasks_list/,
  },
  tasks_start: {
    valid: async (h) => ({ task_id: await h.newTask() }),
    invalid: { task_id: '' },
    invalidMessage: /task_id/,
  },
  tasks_complete: {
    valid: async (h) => ({
      task_id: await h.newTask(),
      summary: 'done in e2e',
      detailed_work: '# Work\nAll of it.',
    }),
    invalid: { task_id: 't_x', artifact_name: '../../escape' },
    invalidMessage: /not found|artifact/,
  },
  tasks_update: {
    valid: async (h) => ({ task_id: await h.newTask(), priority: 'high', note: 'bumped' }),
    invalid: { task_id: 't_x', status: 'completed' },
    invalidMessage: /status/,
  },
  tasks_transition: {
    valid: async (h) => ({ task_id: await h.newTask(), to: 'blocked', reason: 'waiting on vendor' }),
    invalid: { task_id: 't_x', to: 'done' },
    invalidMessage: /to/,
  },
  tasks_depend: {
    valid: async (h) => ({ task_id: await h.newTask(), action: 'add', on: await h.newTask() }),
    invalid: { task_id: 't_x', action: 'link', on: 't_y' },
    invalidMessage: /action/,
  },
  tasks_history: {
    valid: async (h) => ({ task_id: await h.newTask() }),
    invalid: { task_id: 't_x', limit: 1000 },
    invalidMessage: /limit/,
  },
  tasks_query: { valid: () => ({ text: 'parent' }), invalid: { text: '' }, invalidMessage: /text/ },
  tasks_next: { valid: () => ({}), invalid: { priority: 'high' }, invalidMessage: /priority/ },
  tasks_from_template: {
    valid: () => ({ template: 'bugfix', title: 'Login fails on Safari' }),
    invalid: { template: 'nonexistent', title: 'x' },
    invalidMessage: /No template "nonexistent".*feature/,
  },
  tasks_sync_email: {
    valid: (h) =>
      h
        .projectFile(
          'ask.eml',
          'Message-ID: <e2e@example.com>\r\nFrom: a@example.com\r\nSubject: Please review the plan\r\n\r\nCould you review it?\r\n',
        )
        .then((p) => ({ path: p })),
    invalid: { path: '/etc/passwd' },
    invalidMessage: /outside the project/,
  },
  tasks_schedule: {
    valid: async (h) => ({
      task_id: await h.newTask({ due: '2099-01-30' }),
      duration_minutes: 30,
      time_zone: 'UTC',
    }),
    invalid: { task_id: 't_x', day_start: '25:00' },
    invalidMessage: /HH:MM/,
  },
  tasks_plan: {
    valid: (h) => {
      h.answerNext(
        JSON.stringify({ tasks: [{ ref: 'repro', title: 'Reproduce the crash', complexity: 3 }] }),
      );
      return { goal: 'Fix the crash on startup', dry_run: false };
    },
    invalid: { goal: 'x' },
    invalidMessage: /goal/,
  },
  tasks_analyze: { valid: () => ({}), invalid: { task_id: 't_nothing0' }, invalidMessage: /not found/ },
  tasks_briefing: {
    valid: () => ({ horizon_days: 3 }),
    invalid: { horizon_days: 365 },
    invalidMessage: /horizon_days/,
  },
  tasks_maintain: {
    valid: () => ({ action: 'handover' }),
    invalid: { action: 'delete_everything' },
    invalidMessage: /action/,
  },
  tasks_run: {
    valid: async (h) => {
      const root = await h.newTask();
      await h.newTask({ parent: root });
      return { root, mode: 'caller' };
    },
    invalid: { root: 't_zzzzzzzz', resume: 'run_x' },
    invalidMessage: /either root .* or resume/,
  },
  tasks_run_status: {
    valid: () => ({}),
    invalid: { run_id: 'run_nothing' },
    invalidMessage: /No run "run_nothing"/,
  },
  tasks_run_cancel: {
    valid: async (h) => ({ run_id: await h.callerRun(), reason: 'fixture' }),
    invalid: { run_id: 'run_x' },
    invalidMessage: /reason/,
  },
  tasks_expand: {
    valid: async (h) => {
      h.answerNext(
        JSON.stringify({
          tasks: [
            { ref: 'a', title: 'First half', complexity: 2 },
            { ref: 'b', title: 'Second half', complexity: 3, depends_on: [{ ref: 'a' }] },
          ],
        }),
      );
      return { task_id: await h.newTask() };
    },
    invalid: { task_id: 't_zzzzzzzz', max_steps: 1 },
    invalidMessage: /max_steps/,
  },
  tasks_synthesize: {
    valid: async (h) => ({ task_id: await h.newTask() }),
    invalid: { task_id: 't_zzzzzzzz' },
    invalidMessage: /not found/,
  },
};

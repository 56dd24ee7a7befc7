/** The training-data formats `export_training_data` and `task-orchestrator export` write (no imports: the CLI reads it at start). */
export const EXPORT_FORMATS = ['openai_sft', 'openai_preference', 'gemini_sft', 'langfuse', 'full'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

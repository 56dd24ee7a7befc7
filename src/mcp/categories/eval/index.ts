import type { Services } from '../../services.js';
import type { Category } from '../../tool.js';
import { evaluateOutput } from './evaluateOutput.js';
import { exportTrainingData } from './exportTrainingData.js';
import { trainPredictor } from './trainPredictor.js';
import { trialGet } from './trialGet.js';
import { trialsList } from './trialsList.js';
import { judgeCalibrate } from './judgeCalibrate.js';
import { evalRun } from './evalRun.js';
import { evalStatus } from './evalStatus.js';
import { evalCompare } from './evalCompare.js';
import { evalCasesFromMemory } from './evalCasesFromMemory.js';

export function evalCategory(services: Services): Category {
  return {
    name: 'eval',
    description:
      'Grade outputs with code graders and LLM judges, run evaluation suites across models and compare runs (regressions), calibrate the judge against human labels, inspect the graded record (trials) of every agent output, export it, and train the failure predictor.',
    tools: [
      evaluateOutput(services),
      trialsList(services),
      trialGet(services),
      exportTrainingData(services),
      trainPredictor(services),
      judgeCalibrate(services),
      evalRun(services),
      evalStatus(services),
      evalCompare(services),
      evalCasesFromMemory(services),
    ],
  };
}

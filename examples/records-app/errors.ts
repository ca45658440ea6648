/** Why a service method refused: the HTTP status an API layer would answer with it. */
export type RecordsAppErrorCode = 'not-found' | 'forbidden' | 'conflict' | 'invalid';

/** An error of the records app's services (not of the provisioner). */
export class RecordsAppError extends Error {
  override name = 'RecordsAppError' as const;
  readonly code: RecordsAppErrorCode;
  constructor(code: RecordsAppErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

# Regenerates the committed roff man page from its scdoc source (the `man` target):
#   cmake -DSCDOC=/usr/bin/scdoc -DINPUT=man/wabactl.1.scd -DOUTPUT=man/wabactl.1 -P man/scdoc.cmake
# The output is written to a temporary file first, so a failed run leaves the page as it was.
execute_process(COMMAND ${SCDOC} INPUT_FILE ${INPUT} OUTPUT_FILE ${OUTPUT}.tmp
                RESULT_VARIABLE result ERROR_VARIABLE errors)
if(NOT result EQUAL 0)
  file(REMOVE ${OUTPUT}.tmp)
  message(FATAL_ERROR "scdoc failed on ${INPUT}: ${errors}")
endif()
file(RENAME ${OUTPUT}.tmp ${OUTPUT})

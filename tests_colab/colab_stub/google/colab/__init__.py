"""A stand-in for Colab's google.colab (tests_colab/run.sh): only its presence matters."""

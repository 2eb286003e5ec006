# The same build as build-workhorse.sh, for people who prefer Packer (packer-plugin-tart):
#   packer init images/workhorse.pkr.hcl && packer build images/workhorse.pkr.hcl
# Every provisioning step is one of images/scripts/*.sh, run from the copied folder so that
# 30-actions-runner.sh finds ../guest/start-jit-runner.sh. test/images checks the list below
# names exactly the scripts that exist.
packer {
  required_plugins {
    tart = {
      version = ">= 1.12.0"
      source  = "github.com/cirruslabs/tart"
    }
  }
}

variable "base_image" {
  type    = string
  default = "ghcr.io/cirruslabs/macos-sequoia-base:latest"
}

variable "vm_name" {
  type    = string
  default = "workhorse"
}

source "tart-cli" "workhorse" {
  vm_base_name = var.base_image
  vm_name      = var.vm_name
  cpu_count    = 4
  memory_gb    = 8
  headless     = true
  ssh_username = "admin"
  ssh_password = "admin"
  ssh_timeout  = "180s"
}

build {
  sources = ["source.tart-cli.workhorse"]

  provisioner "shell" {
    inline = ["rm -rf /tmp/tf-provision && mkdir -p /tmp/tf-provision"]
  }

  provisioner "file" {
    source      = "${path.root}/scripts"
    destination = "/tmp/tf-provision/"
  }

  provisioner "file" {
    source      = "${path.root}/guest"
    destination = "/tmp/tf-provision/"
  }

  provisioner "shell" {
    inline = [
      "bash /tmp/tf-provision/scripts/10-system.sh",
      "bash /tmp/tf-provision/scripts/20-guest-agent.sh",
      "bash /tmp/tf-provision/scripts/30-actions-runner.sh",
      "bash /tmp/tf-provision/scripts/50-workhorse.sh",
      "bash /tmp/tf-provision/scripts/90-cleanup.sh",
    ]
  }
}
